#!/usr/bin/perl
# ngx_micro_core_module: api and web share it. Loaded without it (or
# before it) either says what to write; with both loaded a worker follows
# the registry once: two Redis connections, as with one module.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
my $B = $MicroTest::BUILD;

sub load { join '', map { "load_module $B/nginx/ngx_micro_${_}_module.so;\n" } @_ }

my $http = <<'CONF';
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    server { listen 127.0.0.1:%%PORT_x%%; }
}
CONF

# Redis clients but redis-cli's own CLIENT LIST connection
sub redis_clients {
    my @lines = grep { /^id=/ }
        `redis-cli -p $t->{redis_port} CLIENT LIST`;
    return @lines - 1;
}

my $base = redis_clients();
for my $case ([ 'api', 'core', 'api' ], [ 'api and web', 'core', 'api', 'web' ]) {
    my ($what, @mods) = @$case;
    my $conf = load(@mods) . <<'CONF';
%%GLOBALS%%
worker_processes 2;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    server {
        listen 127.0.0.1:%%PORT_both%%;
        location /registry { micro_registry_status; }
        location / { micro_api; }
CONF
    $conf .= "        location /web/ { micro_web_namespace go.micro.web; }\n"
        if grep { $_ eq 'web' } @mods;
    $conf .= "    }\n}\n";
    $t->nginx($conf);
    ok($t->every_worker('http://127.0.0.1:' . $t->port('both') . '/registry',
        2, sub { $_[0]{registry}{connected} }, 'workers connected'),
       "$what: both workers follow the registry");
    is(redis_clients() - $base, 4,
       "$what: two Redis connections a worker (CLIENT LIST)");
    $t->nginx_stop;
    MicroTest::wait_until(sub { redis_clients() == $base }, 'workers gone');
}

# (after nginx ran: its log is checked for emergencies when it stops)
for my $case ([ 'api alone', 'api' ], [ 'web alone', 'web' ],
              [ 'api before the core', 'api', 'core' ])
{
    my ($what, @mods) = @$case;
    my $m = "ngx_micro_$mods[0]_module";
    my ($ok, $out) = $t->nginx_test(load(@mods) . $http, 'bad.conf');
    ok(!$ok, "nginx -t refuses $what");
    like($out, qr/\Q$m needs ngx_micro_core_module: add "load_module \E
                  \Qmodules\/ngx_micro_core_module.so;" before the \E
                  \Qload_module line of $m in \E\S+bad\.conf:\d+/x,
         "$what: the message says which line to add, and where");
}


$t->done;
done_testing;
