#pragma once
// Status (core/result.h) <-> grpc::Status, one table for the management API.
#include <grpcpp/support/status.h>

#include "core/result.h"

namespace metalpxe {

grpc::StatusCode ToGrpcCode(ErrorCode code);
grpc::Status ToGrpcStatus(const Status& status);

}  // namespace metalpxe
