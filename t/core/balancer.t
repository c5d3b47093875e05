#!/usr/bin/perl
# The core's balancer under faults: failover goes through the strategy,
# the weights and the filters; a node that hangs (SIGSTOP) is put aside by
# its timeouts, also on kept connections, and micro_max_conns keeps
# traffic flowing to the other node meanwhile. Real nginx (one worker, so
# the counts are one worker's), redis, testsrv nodes and a node that drops
# every call (t/lib: dropping_node).

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use JSON::PP;
use POSIX ();
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;

# The node state directives are a worker's (the http block's): each part
# runs an nginx of its own, with them as it needs them.
my $conf = <<'CONF';
%%MODULES%%
%%GLOBALS%%
worker_processes 1;
http {
    %%HTTP_GLOBALS%%
    micro_registry %%REDIS%%;
    %%NODE_STATE%%

    server {
        listen 127.0.0.1:%%PORT_gw%%;
        micro_api_namespace go.micro.srv;
        micro_read_timeout 3s;

        location /registry { micro_registry_status; }

        # failover stays within the filter
        location /filtered/ {
            rewrite ^/filtered(/.*)$ $1 break;
            micro_api_filter version=1;
            micro_api;
        }

        # failover follows the weights
        location /weighted/ {
            rewrite ^/weighted(/.*)$ $1 break;
            micro_selector_weights 1=1000 2=1;
            micro_api;
        }

        # micro_next_upstream: also on a 503; never; one try only
        location /retry503/ {
            rewrite ^/retry503(/.*)$ $1 break;
            micro_next_upstream error timeout http_503;
            micro_api;
        }

        location /noretry/ {
            rewrite ^/noretry(/.*)$ $1 break;
            micro_next_upstream off;
            micro_api;
        }

        location /onetry/ {
            rewrite ^/onetry(/.*)$ $1 break;
            micro_next_upstream_tries 1;
            micro_api;
        }

        # micro_next_upstream_timeout: no try begins 1 s after the first
        location /bounded/ {
            rewrite ^/bounded(/.*)$ $1 break;
            micro_next_upstream_timeout 1s;
            micro_api;
        }

        location / {
            micro_selector round_robin;
            micro_api;
        }
    }
}
CONF
my $gw = 'http://127.0.0.1:' . $t->port('gw');

sub gateway {
    my ($node_state) = @_;
    $t->nginx_stop;
    (my $c = $conf) =~ s/%%NODE_STATE%%/$node_state/;
    $t->nginx($c);
}

sub call { $t->json_call(@_) }

sub nodes_of {
    my ($name, $n) = @_;
    return MicroTest::wait_until(sub {
        my $st = (call(GET => "$gw/registry"))[1] || {};
        @{ $st->{services}{$name} || [] } == $n }, "$n nodes of $name");
}

sub log_text { MicroTest::read_file($t->dir . '/error.log') }

# --- failover by the selection's rules -------------------------------------

# no marking, so that every call a picks fails over
gateway('micro_max_fails 0;');

# go.micro.srv.fo: a (version 1) drops every call, b is version 1, c 2
my $dropped = $t->dir . '/dropped';
my $a_addr = $t->dropping_node('a', $dropped);
my ($rc, undef, $err) = $t->micro('register', 'service', encode_json({
    name => 'go.micro.srv.fo', version => '1',
    nodes => [{ id => 'fo-a', address => $a_addr, metadata => {} }] }));
is($rc, 0, 'the dropping node registered') or diag($err);
my (undef, $b_addr) = $t->service('testsrv', '--name', 'go.micro.srv.fo',
                                  '--version', '1');
my (undef, $c_addr) = $t->service('testsrv', '--name', 'go.micro.srv.fo',
                                  '--version', '2');
ok(nodes_of('go.micro.srv.fo', 3), 'three nodes of go.micro.srv.fo');

for my $where (qw(filtered weighted)) {
    my (%answered, $failed);
    unlink $dropped;
    for (1 .. 30) {
        my ($code, $reply) = call(GET => "$gw/$where/fo/test/echo?text=x");
        $failed++ if $code != 200;
        $answered{ $reply->{node} // '' }++ if $code == 200;
    }
    my $drops = () = (MicroTest::read_file($dropped) // '') =~ /a\n/g;
    ok($drops >= 3, "$where: node a dropped calls ($drops of 30)");
    is($failed // 0, 0, "$where: every call answered, by failing over");
    if ($where eq 'filtered') {
        is($answered{$c_addr} // 0, 0,
           'filtered: no call reached version 2, failover included');
    } else {
        # weights 1000:1 over versions: some 45 draws (30 picks and their
        # failovers) give version 2 three calls or more 1.5e-5 of the
        # times; failover by order, not weight, gives it half of them
        ok(($answered{$c_addr} // 0) < 3,
           'weighted: failover from a went to b, by the weights ('
           . ($answered{$b_addr} // 0) . ' b, ' . ($answered{$c_addr} // 0)
           . ' c)');
    }
}

# micro_next_upstream off, and micro_next_upstream_tries 1: a call that
# node a drops is a 502, not tried again on b or c
for my $where (qw(noretry onetry)) {
    my $failed = 0;
    unlink $dropped;
    for (1 .. 30) {
        my ($code) = call(GET => "$gw/$where/fo/test/echo?text=x");
        $failed++ if $code == 502;
    }
    my $drops = () = (MicroTest::read_file($dropped) // '') =~ /a\n/g;
    ok($drops >= 3, "$where: node a dropped calls ($drops of 30)");
    is($failed, $drops, "$where: each of them a 502, none tried again");
}

# micro_next_upstream_timeout: two nodes that take a call and never answer.
# Each try ends at micro_read_timeout (3 s); by default the next node is
# tried then, but not once micro_next_upstream_timeout (1 s) has passed.
my $held = $t->dir . '/held';
for my $n (qw(h1 h2)) {
    $t->micro('register', 'service', encode_json({ name => 'go.micro.srv.held',
        version => '1', nodes => [{ id => $n, metadata => {},
        address => $t->dropping_node($n, $held, hold => 1) }] }));
}
ok(nodes_of('go.micro.srv.held', 2), 'two nodes that never answer');
my $held_calls = sub { scalar(() = (MicroTest::read_file($held) // '')
                                   =~ /\n/g) };
my ($held_code) = call(GET => "$gw/held/test/echo");
is("$held_code " . $held_calls->(), '504 2',
   'a GET neither answers: 504, after a try on each node');
($held_code) = call(GET => "$gw/bounded/held/test/echo");
is("$held_code " . $held_calls->(), '504 3',
   'with micro_next_upstream_timeout 1s: 504 after the first try only');

# micro_next_upstream http_503: a node's 503 is tried again on another
# (a GET: a POST only with non_idempotent, as in NGINX); by default it is
# the answer (a Python node that refuses every call)
$t->python_node('microsvc.py', 'go.micro.srv.busy', "busy-$_->[0]",
                @$_[1 .. $#$_]) for ['a', 503], ['b'];
ok(nodes_of('go.micro.srv.busy', 2), 'two nodes of go.micro.srv.busy');
my (%codes, %retried);
for (1 .. 20) {
    $codes{ (call(GET => "$gw/busy/say/hello?name=x"))[0] }++;
    $retried{ (call(GET => "$gw/retry503/busy/say/hello?name=x"))[0] }++;
}
is($codes{503}, 10, 'by default the 503 is the answer (round robin: 10 of 20)');
is($retried{200}, 20, 'with http_503 every call is answered by the other');

# --- a node that hangs ------------------------------------------------------

my ($h1_pid, $h1) = $t->service('testsrv', '--name', 'go.micro.srv.hang');
my ($h2_pid, $h2) = $t->service('testsrv', '--name', 'go.micro.srv.hang');
ok(nodes_of('go.micro.srv.hang', 2), 'two nodes of go.micro.srv.hang');

# five clients, four calls each, while a node hangs: at most
# micro_max_conns (3) of them wait on it; the others' calls go on to the
# other node (with five clients both nodes are never busy at once, so no
# call is refused), and the held ones fail over to it at their timeout
gateway('micro_max_fails 1; micro_max_conns 3;');
ok(nodes_of('go.micro.srv.hang', 2), 'the gateway sees both nodes');
my $burst_from = length log_text();
kill 'STOP', $h2_pid;
my @kids;
for my $i (1 .. 5) {
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $bad = 0;
        for my $k (1 .. 4) {
            my ($code) = call(GET => "$gw/hang/test/echo?text=c$i.$k");
            $bad++ if $code != 200;
        }
        POSIX::_exit($bad);
    }
    push @kids, $pid;
}
my $burst_failed = 0;
for (@kids) {
    waitpid($_, 0);
    $burst_failed++ if $?;
}
is($burst_failed, 0, '5 clients with one node hung: every call answered');
my $burst_timeouts = () = substr(log_text(), $burst_from)
                          =~ /upstream timed out/g;
ok($burst_timeouts <= 3, "at most micro_max_conns (3) calls waited on the "
   . "hung node ($burst_timeouts timed out)");
kill 'CONT', $h2_pid;

# a timeout on a kept connection counts: round robin, one call at a time,
# leaves a kept connection to each node, then one node hangs
gateway('micro_max_fails 1;');
ok(nodes_of('go.micro.srv.hang', 2), 'the gateway sees both nodes again');
my %seen;
for (1 .. 6) {
    my ($code, $reply) = call(GET => "$gw/hang/test/echo?text=warm");
    $seen{ $reply->{node} // '' }++ if $code == 200;
}
is(scalar keys %seen, 2, 'both nodes answered the warm-up');

kill 'STOP', $h2_pid;
my $before = length log_text();
my $failed = 0;
ok(MicroTest::wait_until(sub {
    my ($code) = call(GET => "$gw/hang/test/echo?text=stopped");
    $failed++ if $code != 200;
    substr(log_text(), $before) =~ /micro: node \Q$h2\E of \S+ put aside/;
}, 'the hung node put aside'), 'the hung node is put aside');
my $story = substr(log_text(), $before);
$story =~ s/micro: node \Q$h2\E of \S+ put aside.*//s;
# NGINX logs a try's timeout after the balancer has its outcome
my $timeouts = () = $story =~ /upstream timed out/g;
is($timeouts, 0, 'by its first timeout (micro_max_fails 1), which was on '
   . 'a kept connection');
is($failed, 0, 'the calls it held failed over to the other node');

kill 'CONT', $h2_pid;

# a node address must be an IP address (a name lookup would block the
# worker): micro register refuses a host name, and a node another program
# wrote by host name is skipped when read, with a warning naming it
($rc, undef, $err) = $t->micro('register', 'service', encode_json({
    name => 'go.micro.srv.named', version => '1',
    nodes => [{ id => 'named-a', address => 'localhost:9', metadata => {} }] }));
is($rc, 1, 'micro register refuses a node address that is a host name');
like($err, qr/invalid address "localhost:9" of node "named-a"/,
     'and says which');
my $before_named = length log_text();
$t->register_raw({ name => 'go.micro.srv.named', version => '1',
    nodes => [{ id => 'named-a', address => 'localhost:9', metadata => {} }] });
my (undef, $n_addr) = $t->service('testsrv', '--name', 'go.micro.srv.named');
ok(nodes_of('go.micro.srv.named', 1), 'the node with an IP address is followed');
ok(MicroTest::wait_until(sub {
    substr(log_text(), $before_named) =~ /skipping\ malformed\ registry\ entry
        .*\Qinvalid address "localhost:9" of node "named-a"\E/x
}, 'the warning'), 'the host-name entry is skipped with a warning naming it');
my %named;
for (1 .. 20) {
    my ($code, $reply) = call(GET => "$gw/named/test/echo?text=n");
    $named{$code == 200 ? $reply->{node} // '' : "status $code"}++;
}
is_deeply(\%named, { $n_addr => 20 },
          'every call answered by the node with an IP address');
$t->done;
done_testing;
