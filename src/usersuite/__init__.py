"""usersuite: a contract-first gRPC user service."""
