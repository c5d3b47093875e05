#!/usr/bin/perl
# The broker between processes, against a real redis-server (appendonly,
# fsync always): another language on plain RESP (t/peers/resp_broker.py)
# publishing to and subscribing beside the micro CLI; micro topics; the
# seed's audit trail (examples/customer publishes, examples/audit keeps)
# with the audit service killed and back, killed -9 with events in hand,
# stopped by SIGTERM mid-work, and Redis restarted from its AOF.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use File::Path qw(make_path);
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
my $rport = $t->redis(args => ['--appendonly', 'yes',
                               '--appendfsync', 'always']);
my $url = $t->redis_url;
local $ENV{MICRO_REGISTRY} = $url;
my $py = "$MicroTest::ROOT/t/peers/resp_broker.py";
my ($rc, $out, $err);

sub python {
    my $out = qx(/usr/bin/python3 $py $rport @_);
    return ($? >> 8, $out);
}

# --- another language, and the CLI ------------------------------------------

my $sub = $t->spawn('subscribe', "$MicroTest::BUILD/bin/micro", 'subscribe',
                    'go.micro.evt.py', '--name', 'cli');
ok(MicroTest::wait_until(sub {
    MicroTest::read_file($t->dir . '/subscribe.log') =~ /subscribed to/
}, 'subscribed'), 'micro subscribe is subscribed');
($rc, $out) = python('publish', 'go.micro.evt.py', "'{\"from\":\"python\"}'");
like($out, qr/^\d+-\d+$/, 'Python publishes with a plain XADD');
my $line;
ok(MicroTest::wait_until(sub {
    ($line) = MicroTest::read_file($t->dir . '/subscribe.log')
        =~ /^(\{.*\})$/m;
    $line;
}, 'line'), 'micro subscribe prints it');
my $msg = eval { decode_json($line) } || {};
is_deeply($msg->{body}, { from => 'python' }, 'the body, as JSON');
is($msg->{header}{'X-Language'}, 'python', 'with its header');
is($msg->{topic}, 'go.micro.evt.py', 'and topic');
is($t->stop($sub, 'INT'), 0, 'micro subscribe ends at SIGINT');

($rc, $out) = $t->micro('publish', 'go.micro.evt.py2', '{"n":1}',
                        '--header', 'X-From=cli');
chomp(my $id = $out);
like($id, qr/^[0-9a-f-]{36}$/, 'micro publish prints the message id');
($rc, $out) = python('subscribe', 'go.micro.evt.py2', 'q', 1);
$msg = eval { decode_json($out) } || {};
is($msg->{id}, $id, 'Python reads it as a queue member, by Micro-Id');
is($msg->{header}{'X-From'}, 'cli', 'with its header');
is($msg->{header}{'Content-Type'}, 'application/json', 'and content type');
is($msg->{body}, '{"n":1}', 'and body');

($rc, $out) = $t->micro('topics');
like($out, qr/^go\.micro\.evt\.py\t1\t0\tname:cli\t0\t0\t0$/m,
     'micro topics: the named subscriber, nothing pending or behind');
like($out, qr/^go\.micro\.evt\.py2\t1\t0\tqueue:q\t1\t0\t0$/m,
     'and the Python queue member');

# a dead letter, as a subscriber leaves one, replayed by the CLI
$t->redis_cli('XADD', 'micro:dead:go.micro.evt.py2', '*', 'header',
    '{"Micro-Id":"dead-1","Micro-Topic":"go.micro.evt.py2"}', 'body', '{}',
    'group', 'queue:q', 'entry', '1-0', 'deliveries', '5');
($rc, $out) = $t->micro('topics');
like($out, qr/^go\.micro\.evt\.py2\t1\t1\t/m, 'micro topics counts it');
($rc, $out) = $t->micro('replay', 'go.micro.evt.py2');
like($out, qr/^1 dead letters of go\.micro\.evt\.py2 published again$/,
     'micro replay publishes it again');
($rc, $out) = python('subscribe', 'go.micro.evt.py2', 'q', 1);
is(eval { decode_json($out)->{id} }, 'dead-1', 'with its Micro-Id');
is($t->redis_cli('XLEN', 'micro:dead:go.micro.evt.py2') + 0, 0,
   'and it is no longer a dead letter');

($rc, undef, $err) = $t->micro('publish', 'go.micro.evt.x', '{oops');
is($rc, 2, 'micro publish refuses what is not JSON');
like($err, qr/not JSON/, 'and says so');
($rc, undef, $err) = $t->micro('publish', 'bad topic!', '{}');
like($err, qr/invalid topic/, 'a bad topic name is refused');

# --- the audit trail ------------------------------------------------------

my $store = $t->dir . '/store';
make_path($store);
my @audit = ('--store', $store, '--visibility', 1000);
my ($audit) = $t->service('audit', @audit);
my (undef, $customer) = $t->service('customer');

my %ids;
sub login {
    my ($n) = @_;
    my $bad = 0;
    for my $i (1 .. $n) {
        my ($rc, $out) = $t->micro('call', 'go.micro.api.customer',
            'Customer.Login', qq({"customerId":"c$i"}));
        my $r = eval { decode_json($out) };
        if ($rc == 0 && $r && $r->{eventId}) {
            $ids{$r->{eventId}} = 1;
        } else {
            $bad++;
        }
    }
    return $bad;
}

sub kept { scalar grep { !/^\./ } map { s{.*/}{}r } glob("$store/*") }

sub all_kept {
    my ($what) = @_;
    ok(MicroTest::wait_until(sub { kept() == keys %ids }, $what),
       "$what: every event kept") or diag(kept() . ' of ' . keys %ids);
    my @missing = grep { !-e "$store/$_" } keys %ids;
    is(scalar @missing, 0, "$what: each by its id, once");
}

is(login(20), 0, '20 logins, each an event published');
all_kept('audit running');

$t->stop($audit, 'KILL');
is(login(20), 0, '20 more while the audit service is down');
($audit) = $t->service('audit', @audit);
all_kept('audit back');
($rc, $out) = $t->micro('call', 'go.micro.srv.audit', 'Audit.Count', '{}');
is(eval { decode_json($out)->{events} }, 40, 'Audit.Count says 40');

($rc, $out) = $t->micro('get', 'service', 'go.micro.srv.audit', '--json');
my $entry = eval { decode_json($out)->[0] } || {};
my ($subscriber) = grep { $_->{name} =~ /^Subscriber\./ }
    @{ $entry->{endpoints} || [] };
is_deeply($subscriber && $subscriber->{metadata},
    { subscriber => 'true', topic => 'go.micro.evt.customer',
      queue => 'go.micro.srv.audit' },
    'the registry lists the subscriber as go-micro did');

# a node killed -9 with events in hand: the other takes them over
my ($holder) = $t->service('audit', @audit, '--hold', 600000);
sub holds {
    my ($pid) = @_;
    my $p = $t->redis_cli('XPENDING', 'micro:topic:go.micro.evt.customer',
                          'queue:go.micro.srv.audit');
    return $p =~ /-$pid-[0-9a-f]+\n(\d+)/ ? $1 : 0;
}
my $held = 0;
for (1 .. 100) {
    login(1);
    last if ($held = holds($holder));
}
ok($held > 0, 'a node holds events it has not acknowledged');
$t->stop($holder, 'KILL');
all_kept('its node killed -9');

# SIGTERM mid-work: the event in hand is finished, the rest given back
my ($slow) = $t->service('audit', @audit, '--hold', 300);
$t->stop($audit, 'TERM');
is(login(10), 0, '10 more for a node that takes 300 ms each');
ok(MicroTest::wait_until(sub { holds($slow) }, 'slow holds'),
   'it has them in hand');
is($t->stop($slow, 'TERM'), 0, 'SIGTERM: it stops cleanly');
($audit) = $t->service('audit', @audit);
all_kept('after SIGTERM');

# Redis restarted from its append-only file
$t->redis_stop;
my ($code, undef, $e) = $t->micro('call', 'go.micro.api.customer',
    'Customer.Login', '{"customerId":"down"}', '--address', $customer);
like($e, qr/"code":503.*not stored/, 'Redis down: the login says the event '
     . 'was not stored');
$t->redis(args => ['--appendonly', 'yes', '--appendfsync', 'always']);
is($t->redis_cli('XLEN', 'micro:topic:go.micro.evt.customer') + 0,
   scalar keys %ids, 'every event is still in the topic after the restart');
ok(MicroTest::wait_until(sub { login(1) == 0 }, 'customer back'),
   'the customer publishes again');
all_kept('Redis restarted');

$t->done;
done_testing();
