/* micro_registry_status's handler. */

#ifndef NGX_MICRO_STATUS_H
#define NGX_MICRO_STATUS_H

#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_micro_core.h"


ngx_int_t ngx_micro_status_handler(ngx_http_request_t *r);

#endif
