"""The billing service as the shared gRPC server hosts it."""

from pathlib import Path

import grpc

from billing.v1 import billing_pb2, billing_pb2_grpc
from usersuite.billing.api.errors import BILLING_ERRORS
from usersuite.billing.api.servicer import BillingServicer
from usersuite.billing.service.handlers import AccountHandlers
from usersuite.platform.grpc.binding import ServiceBinding

BILLING_SERVICE = billing_pb2.DESCRIPTOR.services_by_name["BillingService"].full_name

READ = "billing.read"
WRITE = "billing.write"
# The scope each method needs; a method left out is denied.
BILLING_METHOD_SCOPES = {
    f"/{BILLING_SERVICE}/GetAccount": READ,
    f"/{BILLING_SERVICE}/UpdateAccount": WRITE,
}


def billing_service(handlers: AccountHandlers) -> ServiceBinding:
    def add_to_server(server: grpc.aio.Server) -> None:
        billing_pb2_grpc.add_BillingServiceServicer_to_server(BillingServicer(handlers), server)

    return ServiceBinding(
        name=BILLING_SERVICE,
        add_to_server=add_to_server,
        errors=BILLING_ERRORS,
        method_scopes=BILLING_METHOD_SCOPES,
        documented_descriptors=Path(billing_pb2.__file__).with_name("descriptor_set.json"),
    )
