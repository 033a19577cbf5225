# The appliance's endpoints over the HTTP server (owned by the daemon's
# wiring, kept beside the server they plug into).
metalpxe_add_library(metalpxe_http_handlers
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/boot_endpoints.cpp
  DEPS metalpxe_http metalpxe_pxe metalpxe_provisioning)
