# nginx-micro: one entry point for building, testing and installing.
#
#   make deps            install every Debian package needed (needs root)
#   make                 libmicro, the micro CLI and both NGINX modules
#   make test            libmicro unit tests, then the t/ suite (prove)
#   make test-valgrind   the same suites under valgrind; fails on leaks
#   make demo            the README's main job (tools/demo)
#   make bench           registry and selector benchmarks
#   make install         modules to NGINX's module dir, the rest to PREFIX

SHELL       := /bin/bash
PREFIX      ?= /usr/local
BUILD       := $(CURDIR)/build
NGX_SRC     ?= /usr/share/nginx/src
NGX_MODDIR  ?= /usr/lib/nginx/modules
VERSION     := 0.1.0
SOVERSION   := 0

CC          ?= cc
CFLAGS      ?= -O2 -g
WARNINGS    := -Wall -Wextra -Wshadow -Wpointer-arith -Wstrict-prototypes
GEN         := $(BUILD)/gen
LIB_CFLAGS  := $(CFLAGS) $(WARNINGS) -std=gnu11 -fPIC -pthread \
               -Ilibmicro/include -Ilibmicro/src -I$(GEN) $(EXTRA_CFLAGS)
LIB_LIBS    := -lhiredis -ljansson -lprotobuf-c -luv -lhttp_parser -lnghttp2 \
               -lm -pthread
PROTO_INC   := /usr/include
LDFLAGS     += $(EXTRA_LDFLAGS)

# libmicro/src/LAYER/*.c: core, registry, codec, transport, rpc (README,
# "Layout"); the registry's Lua scripts are built from libmicro/lua/
LIB_LAYERS  := core registry codec transport rpc broker
LIB_SRCS    := $(wildcard $(LIB_LAYERS:%=libmicro/src/%/*.c))
LUA_SRCS    := $(wildcard libmicro/lua/*.lua)
LIB_OBJS    := $(LIB_SRCS:libmicro/src/%.c=$(BUILD)/libmicro/%.o) \
               $(BUILD)/libmicro/registry/registry_lua.o \
               $(BUILD)/libmicro/descriptor.pb-c.o
GEN_HDRS    := $(GEN)/google/protobuf/descriptor.pb-c.h
LIB_HDRS    := $(wildcard libmicro/include/*.h libmicro/include/micro/*.h \
                          $(LIB_LAYERS:%=libmicro/src/%/*.h))

# unit tests mirror the layers; binaries are build/test/test_NAME
TEST_SRCS   := $(wildcard $(LIB_LAYERS:%=libmicro/test/%/test_*.c))
TEST_BINS   := $(patsubst %.c,$(BUILD)/test/%,$(notdir $(TEST_SRCS))) \
               $(BUILD)/test/testsrv $(BUILD)/test/grpcsrv \
               $(BUILD)/test/grpcpeer $(BUILD)/test/go/gshapes \
               $(BUILD)/test/py/shapes_pb2_grpc.py
TEST_COMMON := libmicro/test/redis_fixture.c
vpath test_%.c $(LIB_LAYERS:%=libmicro/test/%)

MODULES     := $(BUILD)/nginx/ngx_micro_core_module.so \
               $(BUILD)/nginx/ngx_micro_api_module.so \
               $(BUILD)/nginx/ngx_micro_web_module.so
MODULE_SRCS := $(wildcard ngx_micro_core_module/*.[ch] \
                          ngx_micro_api_module/*.[ch] \
                          ngx_micro_web_module/*.[ch])
DASHBOARD   := $(addprefix ngx_micro_web_module/dashboard/, \
                 index.html app.js app.css)

# generated sources are kept, never removed as intermediates
.SECONDARY:

.PHONY: all lib cli modules examples deps test test-valgrind demo bench fuzz \
        conformance \
        install clean

all: lib cli modules examples

lib: $(BUILD)/libmicro.a $(BUILD)/libmicro.so $(BUILD)/libmicro.pc
cli: $(BUILD)/bin/micro
modules: $(MODULES)
examples: $(BUILD)/bin/greeter $(BUILD)/bin/customer $(BUILD)/bin/example \
          $(BUILD)/bin/web $(BUILD)/bin/audit $(GEN)/proto/services.pb

deps:
	tools/setup-deps

$(BUILD)/libmicro/%.o: libmicro/src/%.c $(LIB_HDRS) $(GEN_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

# the scripts whole (installed) and as C strings
$(GEN)/registry_lua.c: libmicro/lua/build.sh $(LUA_SRCS)
	sh libmicro/lua/build.sh $(GEN)

$(BUILD)/libmicro/registry/registry_lua.o: $(GEN)/registry_lua.c $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -c -o $@ $<

# descriptor.proto's protobuf-c code: reads FileDescriptorSet files
$(GEN)/google/protobuf/%.pb-c.c $(GEN)/google/protobuf/%.pb-c.h: \
        $(PROTO_INC)/google/protobuf/%.proto
	@mkdir -p $(GEN)
	protoc-c -I$(PROTO_INC) --c_out=$(GEN) $<

$(BUILD)/libmicro/descriptor.pb-c.o: $(GEN)/google/protobuf/descriptor.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(BUILD)/libmicro.a: $(LIB_OBJS)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libmicro.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libmicro.so.$(SOVERSION) $(LDFLAGS) \
	    -o $@.$(SOVERSION) $^ $(LIB_LIBS)
	ln -sf libmicro.so.$(SOVERSION) $@

$(BUILD)/libmicro.pc: libmicro/libmicro.pc.in
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' $< > $@

CLI_SRCS    := $(wildcard libmicro/cli/*.c)

$(BUILD)/bin/micro: $(CLI_SRCS) libmicro/cli/cli.h $(BUILD)/libmicro.a \
        $(LIB_HDRS)
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ $(CLI_SRCS) $(BUILD)/libmicro.a \
	    $(LIB_LIBS)

# NGINX modules: configured once against Debian's nginx-dev with the
# binary's own flags (nginx-techniques.md section 1), then built there.
# nginx's configure makes object names by turning a ".c" or ".S" in the
# source's path into ".o", anywhere in it: a checkout under mktemp's
# /tmp/tmp.S... broke. So the tree is configured through a link whose
# path has no dot.
NGX_TREE    := /tmp/nginx-micro-$(shell printf %s '$(CURDIR)' | md5sum | cut -c1-12)

$(BUILD)/nginx/Makefile: config $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	ln -sfn $(CURDIR) $(NGX_TREE)
	cd $(NGX_SRC) && . ./conf_flags && ./configure \
	    --with-cc-opt="$$(dpkg-buildflags --get CFLAGS) -fPIC $$(dpkg-buildflags --get CPPFLAGS) $(EXTRA_CFLAGS)" \
	    --with-ld-opt="$$(dpkg-buildflags --get LDFLAGS) -fPIC $(EXTRA_LDFLAGS)" \
	    "$${NGX_CONF_FLAGS[@]}" --add-dynamic-module=$(NGX_TREE) \
	    --builddir=$(NGX_TREE)/build/nginx > $(BUILD)/nginx-configure.log

$(MODULES): $(BUILD)/nginx/Makefile $(MODULE_SRCS) $(BUILD)/libmicro.a \
            $(LIB_HDRS) $(GEN)/ngx_micro_web_assets.h
	ln -sfn $(CURDIR) $(NGX_TREE)
	$(MAKE) -f $(NGX_TREE)/build/nginx/Makefile -C $(NGX_SRC) modules

# the dashboard's files, built into the web module (the shell first)
$(GEN)/ngx_micro_web_assets.h: tools/embed $(DASHBOARD)
	@mkdir -p $(@D)
	tools/embed $(DASHBOARD) > $@.tmp && mv $@.tmp $@

# protobuf-c code for the well-known types, for tests and examples that
# use them (libmicro itself does not need it)
WKT_PROTOS  := any duration empty field_mask struct timestamp wrappers
WKT_OBJS    := $(WKT_PROTOS:%=$(BUILD)/proto/google/protobuf/%.pb-c.o)

$(BUILD)/proto/%.pb-c.o: $(GEN)/%.pb-c.c
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -Wno-unused-parameter -c -o $@ $<

$(GEN)/everything.pb-c.c $(GEN)/everything.pb-c.h: \
        libmicro/test/proto/everything.proto
	@mkdir -p $(GEN)
	protoc-c -Ilibmicro/test/proto -I$(PROTO_INC) --c_out=$(GEN) $<

$(BUILD)/proto/everything.pb-c.o: \
        $(WKT_PROTOS:%=$(GEN)/google/protobuf/%.pb-c.h)

$(GEN)/everything.pb: libmicro/test/proto/everything.proto \
        libmicro/test/proto/optional.proto
	@mkdir -p $(GEN)
	protoc -Ilibmicro/test/proto -I$(PROTO_INC) --include_imports \
	    --descriptor_set_out=$@ $^

$(BUILD)/test/test_transcode: libmicro/test/codec/test_transcode.c \
        $(BUILD)/proto/everything.pb-c.o $(WKT_OBJS) $(GEN)/everything.pb \
        $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -DMICRO_TEST_DESCRIPTOR_SET='"$(GEN)/everything.pb"' \
	    $(LDFLAGS) -o $@ $< $(BUILD)/proto/everything.pb-c.o $(WKT_OBJS) \
	    $(BUILD)/libmicro.a $(LIB_LIBS) -lcmocka

$(GEN)/testsvc.pb-c.c $(GEN)/testsvc.pb-c.h: libmicro/test/proto/testsvc.proto
	@mkdir -p $(GEN)
	protoc-c -Ilibmicro/test/proto --c_out=$(GEN) $<

$(BUILD)/test/testsrv: libmicro/test/testsrv.c $(GEN)/testsvc.pb-c.c \
        $(GEN)/proto/api.pb-c.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -I$(GEN)/proto $(LDFLAGS) -o $@ $< \
	    $(GEN)/testsvc.pb-c.c $(GEN)/proto/api.pb-c.c $(BUILD)/libmicro.a \
	    $(LIB_LIBS)

$(GEN)/shapes.pb-c.c $(GEN)/shapes.pb-c.h $(GEN)/shapes.pb: \
        libmicro/test/proto/shapes.proto
	@mkdir -p $(GEN)
	protoc-c -Ilibmicro/test/proto --c_out=$(GEN) $<
	protoc -Ilibmicro/test/proto --include_imports \
	    --descriptor_set_out=$(GEN)/shapes.pb $<

# the gRPC tests' server, and their libmicro client (t/libmicro/grpc.t)
$(BUILD)/test/grpc%: libmicro/test/grpc%.c $(GEN)/shapes.pb-c.c \
        $(GEN)/shapes.pb $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ $< $(GEN)/shapes.pb-c.c \
	    $(BUILD)/libmicro.a $(LIB_LIBS)

# the peers: grpc-go (Debian's Go packages, GOPATH, no network) and grpcio
GO_PEER     := $(BUILD)/test/go
$(GO_PEER)/gshapes: t/peers/grpcgo/main.go libmicro/test/proto/shapes.proto
	@mkdir -p $(GO_PEER)/gopath/src/shapes $(GO_PEER)/gopath/src/gshapes
	cp t/peers/grpcgo/main.go $(GO_PEER)/gopath/src/gshapes/
	protoc -Ilibmicro/test/proto --go_out=plugins=grpc:$(GO_PEER)/gopath/src/shapes \
	    libmicro/test/proto/shapes.proto
	GOPATH=$(GO_PEER)/gopath:/usr/share/gocode GO111MODULE=off \
	    GOCACHE=$(GO_PEER)/gocache go build -o $@ gshapes

$(BUILD)/test/py/shapes_pb2_grpc.py: libmicro/test/proto/shapes.proto
	@mkdir -p $(@D)
	/usr/bin/python3 -m grpc_tools.protoc -Ilibmicro/test/proto \
	    --python_out=$(@D) --grpc_python_out=$(@D) $<

$(BUILD)/test/test_rpc: libmicro/test/rpc/test_rpc.c $(GEN)/testsvc.pb-c.c \
        $(TEST_COMMON) $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -Ilibmicro/test $(LDFLAGS) -o $@ $< \
	    $(GEN)/testsvc.pb-c.c $(TEST_COMMON) $(BUILD)/libmicro.a $(LIB_LIBS) \
	    -lcmocka

# the method table of a descriptor set with a service
$(BUILD)/test/test_grpc: libmicro/test/transport/test_grpc.c $(GEN)/shapes.pb \
        $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -DMICRO_TEST_SHAPES_SET='"$(GEN)/shapes.pb"' \
	    $(LDFLAGS) -o $@ $< $(BUILD)/libmicro.a $(LIB_LIBS) -lcmocka

$(BUILD)/test/%: %.c $(TEST_COMMON) \
                 libmicro/test/redis_fixture.h $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -Ilibmicro/test $(LDFLAGS) -o $@ $< $(TEST_COMMON) \
	    $(BUILD)/libmicro.a $(LIB_LIBS) -lcmocka

test: all $(TEST_BINS)
	tools/run-tests

test-valgrind: all $(TEST_BINS)
	MICRO_TEST_VALGRIND=1 tools/run-tests

demo: all
	tools/demo

# every benchmark runs; the target fails at the end if any failed (a
# failed request or a missed budget)
bench: all $(BUILD)/bench/registry_bench $(BUILD)/bench/transcode_bench
	$(BUILD)/bench/registry_bench
	$(BUILD)/bench/transcode_bench $(GEN)/proto/services.pb
	@failed=; for b in rpc grpc gateway callgrind handlers web broker scale slow; do \
	    bash bench/$$b.sh || failed="$$failed $$b"; \
	done; \
	if [ -n "$$failed" ]; then echo "bench failed:$$failed"; exit 1; fi

$(BUILD)/bench/transcode_bench: bench/transcode_bench.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmicro.a $(LIB_LIBS)

$(BUILD)/bench/broker_bench: bench/broker_bench.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmicro.a $(LIB_LIBS)

$(BUILD)/bench/registry_bench: bench/registry_bench.c $(TEST_COMMON) \
                               $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -Ilibmicro/test $(LDFLAGS) -o $@ $< $(TEST_COMMON) \
	    $(BUILD)/libmicro.a $(LIB_LIBS)

# Services: a .proto becomes protobuf-c code (all libmicro needs to
# register and serve its endpoints) and the service links libmicro.
$(GEN)/proto/%.pb-c.c $(GEN)/proto/%.pb-c.h: proto/%.proto
	@mkdir -p $(GEN)/proto
	protoc-c -Iproto -I$(PROTO_INC) --c_out=$(GEN)/proto $<

$(BUILD)/bin/greeter: examples/greeter/main.c $(GEN)/proto/greeter.pb-c.c \
        $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -I$(GEN)/proto $(LDFLAGS) -o $@ $< \
	    $(GEN)/proto/greeter.pb-c.c $(BUILD)/libmicro.a $(LIB_LIBS)

$(BUILD)/bin/customer: examples/customer/main.c \
        $(GEN)/proto/customer.pb-c.c $(GEN)/google/protobuf/timestamp.pb-c.c \
        $(GEN)/proto/api.pb-c.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -I$(GEN)/proto $(LDFLAGS) -o $@ $< \
	    $(GEN)/proto/customer.pb-c.c $(GEN)/google/protobuf/timestamp.pb-c.c \
	    $(GEN)/proto/api.pb-c.c $(BUILD)/libmicro.a $(LIB_LIBS)

$(BUILD)/bin/example: examples/example/main.c $(GEN)/proto/api.pb-c.c \
        $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -I$(GEN)/proto $(LDFLAGS) -o $@ $< \
	    $(GEN)/proto/api.pb-c.c $(BUILD)/libmicro.a $(LIB_LIBS)

$(BUILD)/bin/audit: examples/audit/main.c $(GEN)/proto/api.pb-c.c \
        $(GEN)/proto/audit.pb-c.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) -I$(GEN)/proto $(LDFLAGS) -o $@ $< \
	    $(GEN)/proto/api.pb-c.c $(GEN)/proto/audit.pb-c.c \
	    $(BUILD)/libmicro.a $(LIB_LIBS)

# A web service for micro_web: plain HTTP and WebSocket, no protobuf.
$(BUILD)/bin/web: examples/web/main.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ examples/web/main.c \
	    $(BUILD)/libmicro.a $(LIB_LIBS)

# One descriptor set of every proto/ file, for the gateway and tests.
$(GEN)/proto/services.pb: $(wildcard proto/*.proto)
	@mkdir -p $(GEN)/proto
	protoc -Iproto -I$(PROTO_INC) --include_imports \
	    --descriptor_set_out=$@ $^

# A testee for protobuf's conformance runner (see README, "Conformance").
conformance: $(BUILD)/conformance/testee

$(BUILD)/conformance/testee: libmicro/conformance/testee.c $(BUILD)/libmicro.a
	@mkdir -p $(@D)
	$(CC) $(LIB_CFLAGS) $(LDFLAGS) -o $@ $< $(BUILD)/libmicro.a $(LIB_LIBS)

# libFuzzer build of the transcoder (clang, ASan, UBSan)
FUZZ_CFLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
               -Ilibmicro/include -Ilibmicro/src -I$(GEN)

fuzz:
	tools/setup-deps fuzz
	$(MAKE) $(BUILD)/fuzz/fuzz_transcode

$(BUILD)/fuzz/fuzz_transcode: libmicro/fuzz/fuzz_transcode.c $(LIB_SRCS) \
        $(GEN)/registry_lua.c $(GEN)/everything.pb-c.c $(GEN)/google/protobuf/descriptor.pb-c.c \
        $(WKT_PROTOS:%=$(GEN)/google/protobuf/%.pb-c.c) $(LIB_HDRS)
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(GEN)/registry_lua.c \
	    $(GEN)/everything.pb-c.c \
	    $(GEN)/google/protobuf/descriptor.pb-c.c \
	    $(WKT_PROTOS:%=$(GEN)/google/protobuf/%.pb-c.c) $(LIB_LIBS)

install: all
	install -d $(DESTDIR)$(NGX_MODDIR) $(DESTDIR)$(PREFIX)/lib/pkgconfig \
	    $(DESTDIR)$(PREFIX)/include/micro $(DESTDIR)$(PREFIX)/bin
	install -m 644 $(MODULES) $(DESTDIR)$(NGX_MODDIR)
	install -m 644 $(BUILD)/libmicro.a $(DESTDIR)$(PREFIX)/lib
	install -m 755 $(BUILD)/libmicro.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib
	ln -sf libmicro.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libmicro.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' \
	    libmicro/libmicro.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libmicro.pc
	install -m 644 libmicro/include/micro.h $(DESTDIR)$(PREFIX)/include
	install -m 644 libmicro/include/micro/*.h \
	    $(DESTDIR)$(PREFIX)/include/micro
	install -m 755 $(BUILD)/bin/micro $(DESTDIR)$(PREFIX)/bin
	install -d $(DESTDIR)$(PREFIX)/share/micro
	install -m 644 $(GEN)/proto/services.pb $(DESTDIR)$(PREFIX)/share/micro
	install -d $(DESTDIR)$(PREFIX)/share/micro/lua
	install -m 644 $(GEN)/lua/*.lua $(DESTDIR)$(PREFIX)/share/micro/lua
	@# the loader's cache, for programs linked without the pc file's rpath
	@if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ]; then ldconfig; fi

clean:
	rm -rf $(BUILD)
