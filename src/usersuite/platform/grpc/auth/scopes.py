"""Which scope each RPC needs: a declarative map; a method missing from it is denied."""

READ = "users.read"
WRITE = "users.write"
ORDERS_READ = "orders.read"
ORDERS_WRITE = "orders.write"
BILLING_READ = "billing.read"
BILLING_WRITE = "billing.write"

METHOD_SCOPES: dict[str, str] = {
    "/user.v1.UserService/GetUser": READ,
    "/user.v1.UserService/ListUsers": READ,
    "/user.v1.UserService/CreateUser": WRITE,
    "/user.v1.UserService/UpdateUser": WRITE,
    "/user.v1.UserService/DeleteUser": WRITE,
    "/order.v1.OrderService/GetOrder": ORDERS_READ,
    "/order.v1.OrderService/ListOrders": ORDERS_READ,
    "/order.v1.OrderService/CreateOrder": ORDERS_WRITE,
    "/order.v1.OrderService/CancelOrder": ORDERS_WRITE,
    "/billing.v1.BillingService/GetAccount": BILLING_READ,
    "/billing.v1.BillingService/UpdateAccount": BILLING_WRITE,
    # When reflection is not public, describing the API takes the right to read it.
    "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo": READ,
    "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo": READ,
}
# A method not listed needs this scope, which no token should carry: deny by default.
UNLISTED_METHOD_SCOPE = "usersuite.unlisted-method"


def required_scope(method: str) -> str:
    return METHOD_SCOPES.get(method, UNLISTED_METHOD_SCOPE)
