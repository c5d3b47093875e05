/* libmicro: the Micro toolkit for C services. One header for all of it. */

#ifndef MICRO_H
#define MICRO_H

#include "micro/error.h"
#include "micro/service.h"
#include "micro/registry.h"
#include "micro/watch.h"
#include "micro/heartbeat.h"
#include "micro/snapshot.h"
#include "micro/cache.h"
#include "micro/selector.h"
#include "micro/resolver.h"
#include "micro/pb.h"
#include "micro/transcode.h"
#include "micro/rpc_error.h"
#include "micro/server.h"
#include "micro/client.h"
#include "micro/broker.h"
#include "micro/stream.h"

#endif
