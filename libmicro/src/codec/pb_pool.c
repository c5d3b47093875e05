/* The pool of message types: built from protobuf-c or descriptor sets. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "micro/error.h"
#include "micro/pb.h"
#include "core/map.h"
#include "google/protobuf/descriptor.pb-c.h"

#define MICRO_ARENA_CHUNK  16384

typedef struct micro_arena_chunk_s  micro_arena_chunk_t;

struct micro_arena_chunk_s {
    micro_arena_chunk_t    *next;
    size_t                  used;
    size_t                  size;
    max_align_t             data[];
};

struct micro_pb_pool_s {
    micro_arena_chunk_t    *chunks;
    micro_map_t             messages;    /* full name -> message */
    micro_map_t             enums;       /* full name -> enum */
    micro_map_t             methods;     /* "Service.Method" -> method */
};


/* Zeroed memory that lives as long as the pool. */
static void *
micro_pool_alloc(micro_pb_pool_t *p, size_t size)
{
    size_t                 want;
    micro_arena_chunk_t   *c = p->chunks;

    size = (size + 15) & ~(size_t) 15;
    if (c == NULL || c->size - c->used < size) {
        want = size > MICRO_ARENA_CHUNK ? size : MICRO_ARENA_CHUNK;
        c = calloc(1, sizeof(*c) + want);
        if (c == NULL) {
            return NULL;
        }
        c->size = want;
        c->next = p->chunks;
        p->chunks = c;
    }
    c->used += size;
    return (char *) c->data + c->used - size;
}


static char *
micro_pool_strdup(micro_pb_pool_t *p, const char *s)
{
    char  *d = micro_pool_alloc(p, strlen(s) + 1);

    if (d) {
        strcpy(d, s);
    }
    return d;
}


int
micro_pb_pool_new(micro_pb_pool_t **out)
{
    *out = calloc(1, sizeof(micro_pb_pool_t));
    return *out ? MICRO_OK : MICRO_ENOMEM;
}


void
micro_pb_pool_free(micro_pb_pool_t *p)
{
    micro_arena_chunk_t  *c, *next;

    if (p == NULL) {
        return;
    }
    for (c = p->chunks; c; c = next) {
        next = c->next;
        free(c);
    }
    micro_map_free(&p->messages);
    micro_map_free(&p->enums);
    micro_map_free(&p->methods);
    free(p);
}


const micro_pb_message_t *
micro_pb_pool_message(const micro_pb_pool_t *p, const char *full_name)
{
    if (full_name[0] == '.') {
        full_name++;
    }
    return micro_map_get(&p->messages, full_name);
}


const micro_pb_method_t *
micro_pb_pool_rpc(const micro_pb_pool_t *p, const char *endpoint)
{
    return micro_map_get(&p->methods, endpoint);
}


int
micro_pb_pool_method(const micro_pb_pool_t *p, const char *endpoint,
    const micro_pb_message_t **request, const micro_pb_message_t **response)
{
    const micro_pb_method_t  *m = micro_map_get(&p->methods, endpoint);

    if (m == NULL) {
        return MICRO_ENOTFOUND;
    }
    *request = m->request;
    *response = m->response;
    return MICRO_OK;
}


size_t
micro_pb_pool_size(const micro_pb_pool_t *p)
{
    return p->messages.len;
}


const micro_pb_field_t *
micro_pb_field_by_number(const micro_pb_message_t *m, uint32_t number)
{
    size_t  lo = 0, hi = m->nfields, mid;

    while (lo < hi) {
        mid = (lo + hi) / 2;
        if (m->fields[mid].number == number) {
            return &m->fields[mid];
        }
        if (m->fields[mid].number < number) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}


const micro_pb_field_t *
micro_pb_field_by_name(const micro_pb_message_t *m, const char *name,
    size_t len)
{
    size_t  i;

    for (i = 0; i < m->nfields; i++) {
        if ((strncmp(m->fields[i].json_name, name, len) == 0
             && m->fields[i].json_name[len] == '\0')
            || (strncmp(m->fields[i].name, name, len) == 0
                && m->fields[i].name[len] == '\0'))
        {
            return &m->fields[i];
        }
    }
    return NULL;
}


/* protoc's ToJsonName: drop each '_' and capitalise the letter after it. */
static char *
micro_json_name(micro_pb_pool_t *p, const char *name)
{
    int    up = 0;
    char  *out, *o;

    out = micro_pool_alloc(p, strlen(name) + 1);
    if (out == NULL) {
        return NULL;
    }
    for (o = out; *name; name++) {
        if (*name == '_') {
            up = 1;
        } else {
            *o++ = (up && *name >= 'a' && *name <= 'z') ? *name - 32 : *name;
            up = 0;
        }
    }
    *o = '\0';
    return out;
}


static uint8_t
micro_wkt_kind(const char *full_name)
{
    static const struct {
        const char  *name;
        uint8_t      wkt;
    } wkts[] = {
        { "google.protobuf.Any", MICRO_PB_WKT_ANY },
        { "google.protobuf.Timestamp", MICRO_PB_WKT_TIMESTAMP },
        { "google.protobuf.Duration", MICRO_PB_WKT_DURATION },
        { "google.protobuf.Struct", MICRO_PB_WKT_STRUCT },
        { "google.protobuf.Value", MICRO_PB_WKT_VALUE },
        { "google.protobuf.ListValue", MICRO_PB_WKT_LIST_VALUE },
        { "google.protobuf.FieldMask", MICRO_PB_WKT_FIELD_MASK },
        { "google.protobuf.Empty", MICRO_PB_WKT_EMPTY },
        { "google.protobuf.DoubleValue", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.FloatValue", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.Int64Value", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.UInt64Value", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.Int32Value", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.UInt32Value", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.BoolValue", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.StringValue", MICRO_PB_WKT_WRAPPER },
        { "google.protobuf.BytesValue", MICRO_PB_WKT_WRAPPER },
    };
    size_t  i;

    for (i = 0; i < sizeof(wkts) / sizeof(wkts[0]); i++) {
        if (strcmp(full_name, wkts[i].name) == 0) {
            return wkts[i].wkt;
        }
    }
    return MICRO_PB_WKT_NONE;
}


/* A message shell registered under its name, fields still to come. */
static micro_pb_message_t *
micro_pool_new_message(micro_pb_pool_t *p, const char *full_name)
{
    micro_pb_message_t  *m;

    m = micro_pool_alloc(p, sizeof(*m));
    if (m == NULL || (m->full_name = micro_pool_strdup(p, full_name)) == NULL
        || micro_map_set(&p->messages, m->full_name, m) != MICRO_OK)
    {
        return NULL;
    }
    m->wkt = micro_wkt_kind(full_name);
    return m;
}


static int
micro_field_cmp(const void *a, const void *b)
{
    const micro_pb_field_t  *fa = a, *fb = b;

    return fa->number < fb->number ? -1 : fa->number > fb->number;
}


/* A repeated message field whose type is NameEntry nested in m: a map. */
static void
micro_mark_map_entry(const micro_pb_message_t *m, micro_pb_field_t *f)
{
    char                 want[1024];
    const char          *s;
    size_t               n;
    int                  up = 1;
    micro_pb_message_t  *entry = (micro_pb_message_t *) f->message;

    if (!f->repeated || entry == NULL || entry->nfields != 2
        || entry->fields[0].number != 1 || entry->fields[1].number != 2)
    {
        return;
    }
    n = (size_t) snprintf(want, sizeof(want), "%s.", m->full_name);
    for (s = f->name; *s && n < sizeof(want) - 8; s++) {
        if (*s == '_') {
            up = 1;
            continue;
        }
        want[n++] = (up && *s >= 'a' && *s <= 'z') ? *s - 32 : *s;
        up = 0;
    }
    snprintf(want + n, sizeof(want) - n, "Entry");
    if (strcmp(want, entry->full_name) == 0) {
        entry->map_entry = 1;
    }
}


/* --- from protobuf-c ------------------------------------------------------ */

static const micro_pb_enum_t *
micro_pool_add_pc_enum(micro_pb_pool_t *p, const ProtobufCEnumDescriptor *d)
{
    unsigned                i;
    micro_pb_enum_t        *e;
    micro_pb_enum_value_t  *v;

    e = micro_map_get(&p->enums, d->name);
    if (e) {
        return e;
    }
    e = micro_pool_alloc(p, sizeof(*e));
    v = micro_pool_alloc(p, (d->n_values + 1) * sizeof(*v));
    if (e == NULL || v == NULL
        || (e->full_name = micro_pool_strdup(p, d->name)) == NULL)
    {
        return NULL;
    }
    for (i = 0; i < d->n_values; i++) {
        v[i].name = micro_pool_strdup(p, d->values[i].name);
        v[i].number = d->values[i].value;
        if (v[i].name == NULL) {
            return NULL;
        }
    }
    e->values = v;
    e->nvalues = d->n_values;
    e->null_value = strcmp(d->name, "google.protobuf.NullValue") == 0;
    return micro_map_set(&p->enums, e->full_name, e) == MICRO_OK ? e : NULL;
}


static const micro_pb_message_t *
micro_pool_add_pc(micro_pb_pool_t *p, const ProtobufCMessageDescriptor *d)
{
    unsigned                         i, j;
    micro_pb_field_t                *fields, *f;
    micro_pb_message_t              *m;
    const ProtobufCFieldDescriptor  *fd;

    m = micro_map_get(&p->messages, d->name);
    if (m) {
        return m;
    }
    m = micro_pool_new_message(p, d->name);
    fields = micro_pool_alloc(p, (d->n_fields + 1) * sizeof(*fields));
    if (m == NULL || fields == NULL) {
        return NULL;
    }

    for (i = 0; i < d->n_fields; i++) {
        fd = &d->fields[i];
        f = &fields[i];
        f->name = micro_pool_strdup(p, fd->name);
        f->json_name = micro_json_name(p, fd->name);
        if (f->name == NULL || f->json_name == NULL) {
            return NULL;
        }
        f->number = fd->id;
        f->repeated = fd->label == PROTOBUF_C_LABEL_REPEATED;
        f->packed = (fd->flags & PROTOBUF_C_FIELD_FLAG_PACKED) != 0;
        f->oneof = -1;

        switch (fd->type) {
        case PROTOBUF_C_TYPE_INT32:    f->type = MICRO_PB_INT32; break;
        case PROTOBUF_C_TYPE_SINT32:   f->type = MICRO_PB_SINT32; break;
        case PROTOBUF_C_TYPE_SFIXED32: f->type = MICRO_PB_SFIXED32; break;
        case PROTOBUF_C_TYPE_INT64:    f->type = MICRO_PB_INT64; break;
        case PROTOBUF_C_TYPE_SINT64:   f->type = MICRO_PB_SINT64; break;
        case PROTOBUF_C_TYPE_SFIXED64: f->type = MICRO_PB_SFIXED64; break;
        case PROTOBUF_C_TYPE_UINT32:   f->type = MICRO_PB_UINT32; break;
        case PROTOBUF_C_TYPE_FIXED32:  f->type = MICRO_PB_FIXED32; break;
        case PROTOBUF_C_TYPE_UINT64:   f->type = MICRO_PB_UINT64; break;
        case PROTOBUF_C_TYPE_FIXED64:  f->type = MICRO_PB_FIXED64; break;
        case PROTOBUF_C_TYPE_FLOAT:    f->type = MICRO_PB_FLOAT; break;
        case PROTOBUF_C_TYPE_DOUBLE:   f->type = MICRO_PB_DOUBLE; break;
        case PROTOBUF_C_TYPE_BOOL:     f->type = MICRO_PB_BOOL; break;
        case PROTOBUF_C_TYPE_ENUM:     f->type = MICRO_PB_ENUM; break;
        case PROTOBUF_C_TYPE_STRING:   f->type = MICRO_PB_STRING; break;
        case PROTOBUF_C_TYPE_BYTES:    f->type = MICRO_PB_BYTES; break;
        case PROTOBUF_C_TYPE_MESSAGE:  f->type = MICRO_PB_MESSAGE; break;
        }

        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
            /* members of one oneof share the case member's offset */
            for (j = 0; j < i; j++) {
                if ((d->fields[j].flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
                    && d->fields[j].quantifier_offset == fd->quantifier_offset)
                {
                    f->oneof = fields[j].oneof;
                    break;
                }
            }
            if (f->oneof < 0) {
                f->oneof = (int32_t) m->noneofs++;
            }
        }
        f->presence = !f->repeated
                      && (f->oneof >= 0 || fd->type == PROTOBUF_C_TYPE_MESSAGE
                          || fd->label == PROTOBUF_C_LABEL_OPTIONAL
                          || fd->label == PROTOBUF_C_LABEL_REQUIRED);
    }

    qsort(fields, d->n_fields, sizeof(*fields), micro_field_cmp);
    m->fields = fields;
    m->nfields = d->n_fields;

    /* Referenced types last: m is registered, so cycles end here. */
    for (i = 0; i < d->n_fields; i++) {
        fd = &d->fields[i];
        f = (micro_pb_field_t *) micro_pb_field_by_number(m, fd->id);
        if (fd->type == PROTOBUF_C_TYPE_MESSAGE) {
            f->message = micro_pool_add_pc(p, fd->descriptor);
            if (f->message == NULL) {
                return NULL;
            }
            micro_mark_map_entry(m, f);
        } else if (fd->type == PROTOBUF_C_TYPE_ENUM) {
            f->enumeration = micro_pool_add_pc_enum(p, fd->descriptor);
            if (f->enumeration == NULL) {
                return NULL;
            }
        }
    }
    return m;
}


int
micro_pb_pool_add_protobuf_c(micro_pb_pool_t *p,
    const ProtobufCMessageDescriptor *d, const micro_pb_message_t **out)
{
    const micro_pb_message_t  *m;

    m = micro_pool_add_pc(p, d);
    if (m == NULL) {
        return micro_error_set(MICRO_ENOMEM, "out of memory adding \"%s\"",
                               d->name);
    }
    if (out) {
        *out = m;
    }
    return MICRO_OK;
}


/* --- from a FileDescriptorSet --------------------------------------------- */

typedef struct {
    micro_pb_message_t                  *message;
    const Google__Protobuf__DescriptorProto *proto;
    int                                  proto3;
} micro_pending_t;

typedef struct {
    micro_pending_t                     *items;
    size_t                               len;
    size_t                               cap;
} micro_pending_list_t;


static int
micro_set_enum(micro_pb_pool_t *p, const char *scope,
    const Google__Protobuf__EnumDescriptorProto *ed)
{
    char                    name[1024];
    size_t                  i;
    micro_pb_enum_t        *e;
    micro_pb_enum_value_t  *v;

    snprintf(name, sizeof(name), "%s%s%s", scope, scope[0] ? "." : "",
             ed->name);
    if (micro_map_get(&p->enums, name)) {
        return MICRO_OK;
    }
    e = micro_pool_alloc(p, sizeof(*e));
    v = micro_pool_alloc(p, (ed->n_value + 1) * sizeof(*v));
    if (e == NULL || v == NULL
        || (e->full_name = micro_pool_strdup(p, name)) == NULL)
    {
        return MICRO_ENOMEM;
    }
    for (i = 0; i < ed->n_value; i++) {
        v[i].name = micro_pool_strdup(p, ed->value[i]->name);
        v[i].number = ed->value[i]->number;
        if (v[i].name == NULL) {
            return MICRO_ENOMEM;
        }
    }
    e->values = v;
    e->nvalues = ed->n_value;
    e->null_value = strcmp(name, "google.protobuf.NullValue") == 0;
    return micro_map_set(&p->enums, e->full_name, e);
}


/* Pass 1: registers every message and enum name under scope. */
static int
micro_declare(micro_pb_pool_t *p, const char *scope,
    Google__Protobuf__DescriptorProto *const *msgs, size_t n, int proto3,
    micro_pending_list_t *pending)
{
    int                  rc;
    char                 name[1024];
    size_t               i, j;
    micro_pending_t     *items;
    micro_pb_message_t  *m;

    for (i = 0; i < n; i++) {
        snprintf(name, sizeof(name), "%s%s%s", scope, scope[0] ? "." : "",
                 msgs[i]->name);
        if (micro_map_get(&p->messages, name) == NULL) {
            m = micro_pool_new_message(p, name);
            if (m == NULL) {
                return MICRO_ENOMEM;
            }
            if (pending->len == pending->cap) {
                pending->cap = pending->cap ? pending->cap * 2 : 64;
                items = realloc(pending->items,
                                pending->cap * sizeof(micro_pending_t));
                if (items == NULL) {
                    return MICRO_ENOMEM;
                }
                pending->items = items;
            }
            pending->items[pending->len].message = m;
            pending->items[pending->len].proto = msgs[i];
            pending->items[pending->len].proto3 = proto3;
            pending->len++;
        }
        for (j = 0; j < msgs[i]->n_enum_type; j++) {
            if ((rc = micro_set_enum(p, name, msgs[i]->enum_type[j]))
                != MICRO_OK)
            {
                return rc;
            }
        }
        rc = micro_declare(p, name, msgs[i]->nested_type,
                           msgs[i]->n_nested_type, proto3, pending);
        if (rc != MICRO_OK) {
            return rc;
        }
    }
    return MICRO_OK;
}


/* Pass 2: fills a declared message's fields, resolving type names. */
static int
micro_define(micro_pb_pool_t *p, micro_pending_t *pd)
{
    size_t                                     i;
    micro_pb_field_t                          *fields, *f;
    micro_pb_message_t                        *m = pd->message;
    const Google__Protobuf__FieldDescriptorProto  *fd;

    fields = micro_pool_alloc(p, (pd->proto->n_field + 1) * sizeof(*fields));
    if (fields == NULL) {
        return MICRO_ENOMEM;
    }
    m->map_entry = pd->proto->options && pd->proto->options->has_map_entry
                   && pd->proto->options->map_entry;

    for (i = 0; i < pd->proto->n_field; i++) {
        fd = pd->proto->field[i];
        f = &fields[i];
        f->name = micro_pool_strdup(p, fd->name);
        f->json_name = fd->json_name ? micro_pool_strdup(p, fd->json_name)
                                     : micro_json_name(p, fd->name);
        if (f->name == NULL || f->json_name == NULL) {
            return MICRO_ENOMEM;
        }
        f->number = (uint32_t) fd->number;
        f->type = (uint8_t) fd->type;
        f->repeated =
            fd->label
            == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED;
        f->oneof = -1;
        if (fd->has_oneof_index
            && !(fd->has_proto3_optional && fd->proto3_optional))
        {
            f->oneof = fd->oneof_index;
            if ((size_t) fd->oneof_index >= m->noneofs) {
                m->noneofs = (size_t) fd->oneof_index + 1;
            }
        }
        f->presence = !f->repeated
                      && (f->oneof >= 0 || f->type == MICRO_PB_MESSAGE
                          || f->type == MICRO_PB_GROUP || !pd->proto3
                          || (fd->has_proto3_optional
                              && fd->proto3_optional));
        if (f->repeated && f->type != MICRO_PB_STRING
            && f->type != MICRO_PB_BYTES && f->type != MICRO_PB_MESSAGE
            && f->type != MICRO_PB_GROUP)
        {
            f->packed = fd->options && fd->options->has_packed
                        ? fd->options->packed : pd->proto3;
        }

        if (f->type == MICRO_PB_MESSAGE || f->type == MICRO_PB_GROUP) {
            f->message = fd->type_name
                         ? micro_pb_pool_message(p, fd->type_name) : NULL;
            if (f->message == NULL) {
                return micro_error_set(MICRO_EPARSE, "descriptor set: field "
                                       "\"%s.%s\" refers to unknown type "
                                       "\"%s\"", m->full_name, fd->name,
                                       fd->type_name ? fd->type_name : "");
            }
        } else if (f->type == MICRO_PB_ENUM) {
            f->enumeration = fd->type_name
                             ? micro_map_get(&p->enums, fd->type_name
                                             + (fd->type_name[0] == '.'))
                             : NULL;
            if (f->enumeration == NULL) {
                return micro_error_set(MICRO_EPARSE, "descriptor set: field "
                                       "\"%s.%s\" refers to unknown enum "
                                       "\"%s\"", m->full_name, fd->name,
                                       fd->type_name ? fd->type_name : "");
            }
        } else if (f->type < MICRO_PB_DOUBLE || f->type > MICRO_PB_SINT64) {
            return micro_error_set(MICRO_EPARSE, "descriptor set: field "
                                   "\"%s.%s\" has unknown type %d",
                                   m->full_name, fd->name, (int) fd->type);
        }
    }

    qsort(fields, pd->proto->n_field, sizeof(*fields), micro_field_cmp);
    m->fields = fields;
    m->nfields = pd->proto->n_field;
    return MICRO_OK;
}


/* gRPC's "/pkg.Service/Method" (no package: "/Service/Method"), kept in
 * the pool. */
static const char *
micro_method_path(micro_pb_pool_t *p, const char *package,
    const char *service, const char *method)
{
    int    n;
    char  *path;

    n = snprintf(NULL, 0, "/%s%s%s/%s", package ? package : "",
                 package && *package ? "." : "", service, method);
    path = micro_pool_alloc(p, (size_t) n + 1);
    if (path != NULL) {
        snprintf(path, (size_t) n + 1, "/%s%s%s/%s", package ? package : "",
                 package && *package ? "." : "", service, method);
    }
    return path;
}


static int
micro_add_methods(micro_pb_pool_t *p, Google__Protobuf__FileDescriptorProto *fp)
{
    char                 name[1024];
    size_t               i, j;
    micro_pb_method_t   *m;
    Google__Protobuf__ServiceDescriptorProto  *sd;
    Google__Protobuf__MethodDescriptorProto   *md;

    for (i = 0; i < fp->n_service; i++) {
        sd = fp->service[i];
        for (j = 0; j < sd->n_method; j++) {
            md = sd->method[j];
            snprintf(name, sizeof(name), "%s.%s", sd->name, md->name);
            if (micro_map_get(&p->methods, name) || !md->input_type
                || !md->output_type)
            {
                continue;                    /* the first definition wins */
            }
            m = micro_pool_alloc(p, sizeof(*m));
            if (m == NULL) {
                return MICRO_ENOMEM;
            }
            m->request = micro_pb_pool_message(p, md->input_type);
            m->response = micro_pb_pool_message(p, md->output_type);
            m->client_streaming = md->has_client_streaming
                                  && md->client_streaming;
            m->server_streaming = md->has_server_streaming
                                  && md->server_streaming;
            m->path = micro_method_path(p, fp->package, sd->name, md->name);
            if (m->path == NULL) {
                return MICRO_ENOMEM;
            }
            if (m->request == NULL || m->response == NULL) {
                return micro_error_set(MICRO_EPARSE, "descriptor set: "
                                       "method \"%s\" refers to unknown "
                                       "types", name);
            }
            if (micro_map_set(&p->methods, name, m) != MICRO_OK) {
                return MICRO_ENOMEM;
            }
        }
    }
    return MICRO_OK;
}


int
micro_pb_pool_add_descriptor_set(micro_pb_pool_t *p, const uint8_t *data,
    size_t len)
{
    int                                 rc = MICRO_OK, proto3;
    size_t                              i, j;
    micro_pending_list_t                pending = { 0 };
    Google__Protobuf__FileDescriptorSet  *set;
    Google__Protobuf__FileDescriptorProto *fp;

    set = google__protobuf__file_descriptor_set__unpack(NULL, len, data);
    if (set == NULL) {
        return micro_error_set(MICRO_EPARSE, "not a FileDescriptorSet");
    }

    for (i = 0; rc == MICRO_OK && i < set->n_file; i++) {
        fp = set->file[i];
        proto3 = fp->syntax && strcmp(fp->syntax, "proto3") == 0;
        for (j = 0; rc == MICRO_OK && j < fp->n_enum_type; j++) {
            rc = micro_set_enum(p, fp->package ? fp->package : "",
                                fp->enum_type[j]);
        }
        if (rc == MICRO_OK) {
            rc = micro_declare(p, fp->package ? fp->package : "",
                               fp->message_type, fp->n_message_type, proto3,
                               &pending);
        }
    }
    for (i = 0; rc == MICRO_OK && i < pending.len; i++) {
        rc = micro_define(p, &pending.items[i]);
    }
    /* RPC methods, by go-micro's endpoint name */
    for (i = 0; rc == MICRO_OK && i < set->n_file; i++) {
        rc = micro_add_methods(p, set->file[i]);
    }

    /* Map entries are known once every message has its fields. */
    for (i = 0; rc == MICRO_OK && i < pending.len; i++) {
        micro_pb_message_t  *m = pending.items[i].message;

        for (j = 0; j < m->nfields; j++) {
            if (m->fields[j].message && m->fields[j].message->map_entry
                && !m->fields[j].repeated)
            {
                rc = micro_error_set(MICRO_EPARSE, "descriptor set: map "
                                     "field \"%s.%s\" is not repeated",
                                     m->full_name, m->fields[j].name);
            }
        }
    }

    if (rc == MICRO_ENOMEM) {
        micro_error_set(rc, "out of memory loading a descriptor set");
    }
    free(pending.items);
    google__protobuf__file_descriptor_set__free_unpacked(set, NULL);
    return rc;
}
