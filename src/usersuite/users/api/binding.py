"""The users service as the shared gRPC server hosts it."""

from pathlib import Path

import grpc

from user.v1 import user_pb2, user_pb2_grpc
from usersuite.platform.grpc.binding import ServiceBinding
from usersuite.users.api.errors import USER_ERRORS
from usersuite.users.api.servicer import UserServicer
from usersuite.users.service.handlers import UserHandlers

USER_SERVICE = user_pb2.DESCRIPTOR.services_by_name["UserService"].full_name

READ = "users.read"
WRITE = "users.write"
# The scope each method needs; a method left out is denied.
USER_METHOD_SCOPES = {
    f"/{USER_SERVICE}/GetUser": READ,
    f"/{USER_SERVICE}/ListUsers": READ,
    f"/{USER_SERVICE}/CreateUser": WRITE,
    f"/{USER_SERVICE}/UpdateUser": WRITE,
    f"/{USER_SERVICE}/DeleteUser": WRITE,
}


def user_service(handlers: UserHandlers) -> ServiceBinding:
    def add_to_server(server: grpc.aio.Server) -> None:
        user_pb2_grpc.add_UserServiceServicer_to_server(UserServicer(handlers), server)

    return ServiceBinding(
        name=USER_SERVICE,
        add_to_server=add_to_server,
        errors=USER_ERRORS,
        method_scopes=USER_METHOD_SCOPES,
        documented_descriptors=Path(user_pb2.__file__).with_name("descriptor_set.json"),
    )
