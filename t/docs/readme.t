#!/usr/bin/perl
# The README's "Writing an SRV service" compiles and runs as written: its
# proto, C and build commands are taken from the README itself (blocks
# marked "readme-test"), against this tree's libmicro through pkg-config.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Digest::SHA ();
use JSON::PP;
use Test::More;
use MicroTest;

my $t = MicroTest->new;
my $dir = $t->dir;
my $readme = MicroTest::read_file("$MicroTest::ROOT/README");

my %block;
while ($readme =~ /<!-- readme-test: (\S+) -->\n```\w*\n(.*?)```/sg) {
    $block{$1} = $2;
}
ok($block{$_}, "README has the $_ block") for qw(greeter.proto main.c build);

MicroTest::write_file("$dir/greeter.proto", $block{'greeter.proto'});
MicroTest::write_file("$dir/main.c", $block{'main.c'});

# make install into a prefix of the test's own, as a user would into
# /usr/local; the service is then built and run from it alone (no
# LD_LIBRARY_PATH: the installed libmicro.pc has to be enough)
my $prefix = "$dir/prefix";
my $out = `make -s -C $MicroTest::ROOT install PREFIX=$prefix NGX_MODDIR=$prefix/modules 2>&1`;
is($?, 0, 'make install PREFIX=... succeeds') or diag($out);
ok(-e "$prefix/lib/libmicro.so.0" && -e "$prefix/lib/pkgconfig/libmicro.pc",
   'and installs the library and its pkg-config file');

my @build = grep { /^(protoc-c|cc) / } split /\n/, $block{build};
is(scalar @build, 2, 'two build commands');
for my $cmd (@build) {
    $out = `cd $dir && export PKG_CONFIG_PATH=$prefix/lib/pkgconfig && $cmd 2>&1`;
    is($?, 0, "runs: $cmd") or diag($out);
}

$t->redis;
local $ENV{MICRO_REGISTRY} = $t->redis_url;
delete local $ENV{LD_LIBRARY_PATH};
my $pid = $t->spawn('greeter', $t->valgrind_prefix('greeter'), "$dir/greeter",
    '--registry', $t->redis_url);
ok(MicroTest::wait_until(sub {
    MicroTest::read_file("$dir/greeter.log") =~ /listening on/ }, 'greeter'),
    'the README greeter starts');
my ($rc, $err);
($rc, $out, $err) = $t->micro('call', 'go.micro.srv.greeter', 'Say.Hello',
    '{"name":"John"}');
is($out, "{\"msg\":\"Hello John\"}\n", 'and answers the README call')
    or diag($err);
($rc, $out, $err) = $t->micro('call', 'go.micro.srv.greeter', 'Say.Hello',
    '{"name":"gRPC"}', '--protocol', 'grpc');
is($out, "{\"msg\":\"Hello gRPC\"}\n", 'over gRPC too, on the same port')
    or diag($err);

# the registry's scripts installed whole are the text libmicro runs (the
# greeter loaded them: their SHA1s are in Redis's script cache), and
# another language registers with one by a plain EVAL
my @scripts = map { "$prefix/share/micro/lua/$_.lua" }
    qw(register deregister get reap list present);
ok(!(grep { !-e } @scripts), 'make install puts the six Lua scripts in '
   . 'share/micro/lua');
my @sha = map { Digest::SHA::sha1_hex(MicroTest::read_file($_)) } @scripts;
is($t->redis_cli('SCRIPT', 'EXISTS', @sha), "1\n" x 6,
   'each is the very text libmicro loads');
my $entry = encode_json({ name => 'go.micro.srv.lua', version => '1',
    nodes => [{ id => 'lua-1', address => '127.0.0.1:9', metadata => {} }] });
is($t->redis_cli('EVAL', MicroTest::read_file($scripts[0]), 3,
    'micro:registry:services', 'micro:registry:svc:go.micro.srv.lua',
    'micro:registry:expiry', 'go.micro.srv.lua', 'lua-1', $entry, 30000,
    'micro:registry:watch'), "create\n", 'register.lua by EVAL: "create"');
($rc, $out) = $t->micro('get', 'service', 'go.micro.srv.lua', '--json');
is(eval { decode_json($out)->[0]{nodes}[0]{id} }, 'lua-1',
   'and libmicro reads the node it registered');
is($t->stop($pid, 'TERM') >> 8, 0, 'the greeter stops cleanly');

$t->done;
done_testing();
