package MicroTest;

# A small harness for nginx-micro's tests, in the style of nginx-tests'
# Test::Nginx: a temp dir per test file (kept when a test failed), free
# ports probed before use, and start/stop of redis-server, nginx with the
# built modules and any backend process. It only ever signals processes it
# started itself. Stopping nginx checks its error log for [alert], [emerg]
# and crashed workers, and, under MICRO_TEST_VALGRIND=1, valgrind's reports.
# Under valgrind every process the harness started is stopped with TERM and
# waited for before the reports are read: valgrind writes its leak report
# at exit, so a process killed with KILL would report nothing.

use strict;
use warnings;

use Cwd qw(abs_path);
use File::Basename qw(dirname);
use File::Path qw(rmtree);
use File::Temp qw(tempdir);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use IPC::Open3;
use JSON::PP ();
use POSIX qw(WNOHANG);
use Symbol qw(gensym);
use Test::More;
use Time::HiRes qw(sleep clock_gettime CLOCK_MONOTONIC);

our $ROOT = abs_path(dirname(__FILE__) . '/../..');
our $BUILD = $ENV{MICRO_BUILD} || "$ROOT/build";
our $NGINX = $ENV{TEST_NGINX_BINARY} || '/usr/sbin/nginx';
our $VALGRIND = $ENV{MICRO_TEST_VALGRIND};
our $TIMEOUT = 20;         # seconds, for every bounded wait

my %taken;                 # ports handed out by this process

# Seconds on the monotonic clock: this machine's wall clock has been seen
# to step by minutes in the middle of a run, which would cut a bounded
# wait short or make a call look slow.
sub now { clock_gettime(CLOCK_MONOTONIC) }

sub new {
    my ($class) = @_;
    my $dir = tempdir('micro-test-XXXXXXXX', TMPDIR => 1);
    chmod 0755, $dir;      # nginx workers run as nobody
    return bless { dir => $dir, procs => {}, logs_checked => {} }, $class;
}

sub dir { $_[0]{dir} }

# A TCP port on 127.0.0.1 that nobody listens on, below the ephemeral range
# and away from well-known ones.
sub free_port {
    for (1 .. 1000) {
        my $port = 20000 + int(rand(12000));
        next if $taken{$port};
        my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
            LocalPort => $port, Proto => 'tcp', ReuseAddr => 0, Listen => 1)
            or next;
        close $s;
        $taken{$port} = 1;
        return $port;
    }
    die "no free port found";
}

sub wait_until {
    my ($cond, $what, $timeout) = @_;
    my $deadline = now() + ($timeout || $TIMEOUT);
    while (now() < $deadline) {
        my $v = $cond->();
        return $v if $v;
        sleep 0.02;
    }
    diag("timed out waiting for $what");
    return;
}

sub port_open {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
        Proto => 'tcp', Timeout => 1);
    return $s ? do { close $s; 1 } : 0;
}

# The valgrind command line for a process NAME (empty unless
# MICRO_TEST_VALGRIND); trace_children => 1 follows exec too (nginx's
# binary upgrade execs the new binary).
sub valgrind_prefix {
    my ($self, $name, %opt) = @_;
    return () unless $VALGRIND;
    return ('valgrind', '-q', '--vgdb=no', '--error-exitcode=97',
        '--leak-check=full',
        '--errors-for-leak-kinds=definite', '--show-leak-kinds=definite',
        '--trace-children=' . ($opt{trace_children} ? 'yes' : 'no'),
        "--suppressions=$ROOT/t/valgrind.supp",
        "--log-file=$self->{dir}/valgrind.$name.%p.log");
}

# Starts a process with output to DIR/NAME.log; returns its pid.
sub spawn {
    my ($self, $name, @cmd) = @_;
    my $log = "$self->{dir}/$name.log";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>>', $log or die;
        open STDERR, '>&', \*STDOUT or die;
        exec @cmd or die "exec $cmd[0]: $!";
    }
    $self->{procs}{$pid} = $name;
    return $pid;
}

# Sends sig and waits (bounded) for the process to exit; KILL after that.
sub stop {
    my ($self, $pid, $sig) = @_;
    return unless $pid && $self->{procs}{$pid};
    kill $sig || 'TERM', $pid;
    my $gone = wait_until(sub { waitpid($pid, WNOHANG) == $pid }, "pid $pid");
    unless ($gone) {
        kill 'KILL', $pid;
        waitpid($pid, 0);
    }
    my $status = $?;
    delete $self->{procs}{$pid};
    return $status;
}

sub alive {
    my ($self, $pid) = @_;
    return waitpid($pid, WNOHANG) == 0;
}

sub read_file {
    my ($path) = @_;
    open my $fh, '<', $path or return '';
    local $/;
    return <$fh>;
}

sub write_file {
    my ($path, $data) = @_;
    open my $fh, '>', $path or die "$path: $!";
    print $fh $data;
    close $fh;
}

# --- redis ---------------------------------------------------------------

sub redis {
    my ($self, %opt) = @_;
    my $port = $opt{port} || $self->{redis_port} || free_port();
    my @extra = @{ $opt{args} || [] };
    my $pid = $self->spawn('redis', 'redis-server', '--port', $port,
        '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
        '--dir', $self->{dir}, @extra);
    wait_until(sub { port_open($port) }, "redis on $port")
        or die "redis-server did not start";
    $self->{redis_port} = $port;
    $self->{redis_pid} = $pid;
    return $port;
}

sub redis_stop {
    my ($self) = @_;
    $self->stop(delete $self->{redis_pid}, 'KILL');
}

# A TCP relay to 127.0.0.1:$port that holds every connection it accepts
# until the file it returns exists, then relays both ways: the real Redis,
# but answering only when the test says so. Returns (port, gate file).
sub tcp_gate {
    my ($self, $port) = @_;
    my $gate = "$self->{dir}/gate." . $port;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "gate: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $listen->accept) {
            next if fork();
            my $until = now() + 10 * $TIMEOUT;    # never outlive a test
            sleep 0.01 until -e $gate || now() > $until;
            my $up = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$port")
                or POSIX::_exit(1);
            my $sel = IO::Select->new($c, $up);
            RELAY: while (my @ready = $sel->can_read) {
                for my $from (@ready) {
                    my $to = $from == $c ? $up : $c;
                    sysread($from, my $buf, 65536) or last RELAY;
                    syswrite($to, $buf) or last RELAY;
                }
            }
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }
    $self->{procs}{$pid} = 'gate';
    my $gate_port = $listen->sockport;
    close $listen;
    return ($gate_port, $gate);
}

sub redis_url {
    my ($self) = @_;
    return "redis://127.0.0.1:$self->{redis_port}/0";
}

# A Redis command in this test's redis (redis-cli, arguments as given);
# returns its output.
sub redis_cli {
    my ($self, @args) = @_;
    open(my $fh, '-|', 'redis-cli', '-p', $self->{redis_port}, @args)
        or die "redis-cli: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "redis-cli @args failed";
    return $out;
}

# Writes one registry entry (a hash: name, nodes => [one node], ...) the
# way another language would with plain commands and no checks of ours,
# announced on the watch channel; the node does not expire.
sub register_raw {
    my ($self, $entry) = @_;
    my $json = JSON::PP->new->canonical->encode($entry);
    my ($name, $id) = ($entry->{name}, $entry->{nodes}[0]{id});
    $self->redis_cli('HSET', "micro:registry:svc:$name", $id, $json);
    $self->redis_cli('ZADD', 'micro:registry:expiry', '+inf', "$name $id");
    $self->redis_cli('SADD', 'micro:registry:services', $name);
    $self->redis_cli('PUBLISH', 'micro:registry:watch',
        qq({"action":"create","ttl":0,"service":$json}));
}

# --- services ------------------------------------------------------------

# Starts a libmicro service binary (build/bin/NAME or build/test/NAME) on a
# free loopback port, registered in this test's redis; returns its pid and
# address once it listens.
sub service {
    my ($self, $bin, @args) = @_;
    my $path = -x "$BUILD/bin/$bin" ? "$BUILD/bin/$bin" : "$BUILD/test/$bin";
    my $port = free_port();
    my $log = "$bin-$port";
    my $pid = $self->spawn($log, $self->valgrind_prefix($log), $path,
        '--registry', $self->redis_url, '--address', "127.0.0.1:$port",
        @args);
    wait_until(sub { read_file("$self->{dir}/$log.log") =~ /listening on/ },
        "$bin listening") or die "$bin did not start:\n"
        . read_file("$self->{dir}/$log.log");
    return ($pid, "127.0.0.1:$port");
}

# A node of service NAME in another language: t/SCRIPT (Python's standard
# library) started with a free port and ARGS, registered by the CLI with
# node id ID. Returns (pid, address).
sub python_node {
    my ($self, $script, $name, $id, @args) = @_;
    my $port = free_port();
    my $pid = $self->spawn("$id", '/usr/bin/python3', "$ROOT/t/peers/$script",
                           $port, @args);
    wait_until(sub { port_open($port) }, "$id up")
        or die "$script for $id did not start";
    my ($rc, undef, $err) = $self->micro('register', 'service', JSON::PP
        ->new->encode({ name => $name, version => '1',
                        nodes => [{ id => $id, address => "127.0.0.1:$port",
                                    metadata => {} }] }));
    die "register $id: $err" if $rc;
    return ($pid, "127.0.0.1:$port");
}

# Registers nodes at PORTS on loopback as service NAME, speaking gRPC only
# (protocol=grpc, as go-micro's gRPC servers register); dies if it fails.
sub register_grpc {
    my ($self, $name, @ports) = @_;
    my ($rc, undef, $err) = $self->micro('register', 'service', JSON::PP
        ->new->encode({ name => $name, version => '1',
                        nodes => [map { { id => "$name-$_",
                                          address => "127.0.0.1:$_",
                                          metadata => { protocol => 'grpc' } }
                                      } @ports] }));
    die "register $name: $err" if $rc;
}

# The gRPC tests' micro.shapes.Shapes servers, each its own kind: grpcio
# (t/peers/grpc_shapes.py), grpc-go (t/peers/grpcgo) and libmicro
# (test/grpcsrv), up and registered as go.micro.api.pyshapes, goshapes
# and lmshapes. Returns { grpcio|grpc-go|libmicro => { pid, port, path } }
# (path: the gateway's path prefix to it under micro_api).
sub shapes_servers {
    my ($self, @grpcsrv_args) = @_;
    my %s;
    my $py = free_port();
    $s{grpcio} = { port => $py, path => '/pyshapes',
                   pid => $self->spawn('grpcio', '/usr/bin/python3',
                       "$ROOT/t/peers/grpc_shapes.py", "$BUILD/test/py",
                       $py) };
    my $go = free_port();
    $s{'grpc-go'} = { port => $go, path => '/goshapes',
                      pid => $self->spawn('grpc-go', "$BUILD/test/go/gshapes",
                          '--address', "127.0.0.1:$go") };
    my ($pid, $addr) = $self->service('grpcsrv', @grpcsrv_args);
    my ($lm) = $addr =~ /:(\d+)$/;
    $s{libmicro} = { port => $lm, path => '/lmshapes', pid => $pid };
    for my $who ('grpcio', 'grpc-go') {
        wait_until(sub { port_open($s{$who}{port}) }, "$who up")
            or die "the $who server did not start";
    }
    $self->register_grpc("go.micro.api.$_", $s{{ pyshapes => 'grpcio',
        goshapes => 'grpc-go', lmshapes => 'libmicro' }->{$_}}{port})
        for qw(pyshapes goshapes lmshapes);
    return \%s;
}

# A node that reads the request on each connection it accepts (head and
# Content-Length body), appends its name to $file, and closes without a
# reply: a node that dies with the call in hand. Returns its address.
sub dropping_node {
    my ($self, $name, $file, %opt) = @_;
    my $listen = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
        LocalPort => 0, Listen => 16, ReuseAddr => 1) or die "listen: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my @held;
        while (my $c = $listen->accept) {
            local $/ = "\r\n\r\n";
            my $head = <$c> // next;
            my ($len) = $head =~ /^Content-Length: *(\d+)/im;
            read($c, my $body, $len) if $len;
            open my $fh, '>>', $file or POSIX::_exit(1);
            print $fh "$name\n";
            close $fh;
            # hold => 1: never answer, keep the connection until the end
            $opt{hold} ? push(@held, $c) : close $c;
        }
        POSIX::_exit(0);
    }
    $self->{procs}{$pid} = "dropping-$name";
    my $port = $listen->sockport;
    close $listen;
    return "127.0.0.1:$port";
}

# One HTTP exchange on a new connection: (status, headers hash, body).
sub raw_call {
    my ($self, $address, $request) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $address, Timeout => $TIMEOUT)
        or die "connect $address: $!";
    print $s $request;
    my @r = read_response($s);
    close $s;
    return @r;
}

# A micro transport request as bytes.
sub rpc_request {
    my (%o) = @_;
    my $body = $o{body} // '';
    my $h = "POST / HTTP/1.1\r\nHost: x\r\n"
        . "Content-Type: " . ($o{type} || 'application/json') . "\r\n"
        . ($o{service} ? "Micro-Service: $o{service}\r\n" : '')
        . "Micro-Endpoint: $o{endpoint}\r\n"
        . join('', map { "$_\r\n" } @{ $o{headers} || [] })
        . "Content-Length: " . length($body) . "\r\n\r\n";
    return $h . $body;
}

# Reads one response (Content-Length framed) from a socket.
sub read_response {
    my ($s) = @_;
    local $/ = "\r\n";
    my $status = <$s> // return (0, {}, '');
    my ($code) = $status =~ m{^HTTP/1\.1 (\d+)};
    my %h;
    while (my $line = <$s>) {
        last if $line eq "\r\n";
        $line =~ s/\r\n$//;
        my ($k, $v) = split /:\s*/, $line, 2;
        $h{lc $k} = $v;
    }
    my $body = '';
    my $len = $h{'content-length'} // 0;
    while (length($body) < $len) {
        my $n = read($s, $body, $len - length($body), length($body));
        last unless $n;
    }
    return ($code, \%h, $body);
}

# ESTABLISHED TCP connections whose local port is $port (from /proc).
sub connections_to {
    my ($port) = @_;
    my $n = 0;
    for my $f ('/proc/net/tcp', '/proc/net/tcp6') {
        open my $fh, '<', $f or next;
        while (<$fh>) {
            my @c = split;
            next unless $c[1] && $c[1] =~ /:([0-9A-F]{4})$/;
            $n++ if hex($1) == $port && $c[3] eq '01';
        }
    }
    return $n;
}

# --- the micro CLI -------------------------------------------------------

# Runs the CLI; returns (exit code, stdout, stderr).
sub micro {
    my ($self, @args) = @_;
    my @cmd = ($self->valgrind_prefix('micro'), "$BUILD/bin/micro", @args);
    my $err = gensym;
    my $pid = open3(my $in, my $out, $err, @cmd);
    close $in;
    local $/;
    my $stdout = <$out> // '';
    my $stderr = <$err> // '';
    waitpid($pid, 0);
    my $code = $? >> 8;
    if ($VALGRIND && $code == 97) {
        diag("valgrind reported errors in micro @args");
    }
    return ($code, $stdout, $stderr);
}

# --- nginx ---------------------------------------------------------------

sub modules {
    return join '', map { "load_module $BUILD/nginx/$_.so;\n" }
        qw(ngx_micro_core_module ngx_micro_api_module ngx_micro_web_module);
}

# Expands %%MODULES%%, %%GLOBALS%%, %%HTTP_GLOBALS%%, %%TESTDIR%%,
# %%REDIS%% (the registry URL), %%PROTO%% (the examples' descriptor set)
# and %%PORT_<name>%% (a free port, the same for one name).
sub expand {
    my ($self, $conf) = @_;
    my $d = $self->{dir};
    # under valgrind too the master forks its workers (valgrind follows
    # forks), so reloads behave as in production
    my $globals = "daemon off;\npid $d/nginx.pid;\n"
        . "error_log $d/error.log debug;\n"
        . "events { worker_connections 1024; }\n";
    my $http = "access_log $d/access.log;\n"
        . join '', map { "${_}_temp_path $d/${_}_temp;\n" }
            qw(client_body proxy fastcgi uwsgi scgi);
    $conf =~ s/%%MODULES%%/modules()/ge;
    $conf =~ s{%%PROTO%%}{$BUILD/gen/proto/services.pb}g;
    $conf =~ s/%%GLOBALS%%/$globals/g;
    $conf =~ s/%%HTTP_GLOBALS%%/$http/g;
    $conf =~ s/%%TESTDIR%%/$d/g;
    $conf =~ s/%%REDIS%%/$self->redis_url()/ge
        if $self->{redis_port};
    my %used;
    $conf =~ s/%%PORT_(\w+)%%/$used{$1} = $self->port($1)/ge;
    $self->{conf_ports} = [ values %used ];
    return $conf;
}

sub port {
    my ($self, $name) = @_;
    return $self->{ports}{$name} ||= free_port();
}

# A conf.example file made runnable here: the built modules, free ports
# for its listen directives (named PORT_8080 and so on for port()), and the
# globals and logs in the test dir. Its worker_processes stay (workers =>
# N sets another number).
sub example_conf {
    my ($self, $name, %opt) = @_;
    my $conf = read_file("$ROOT/conf.example/$name") or die "no $name";
    $conf =~ s/^load_module .*\n//mg;
    $conf =~ s/^(error_log|daemon|pid)\b.*\n//mg;
    $conf =~ s/^worker_processes .*\n/worker_processes $opt{workers};\n/m
        if $opt{workers};
    $conf =~ s/^events \{.*?^\}\n//ms;
    $conf =~ s/access_log (?!off)\S+( \w+)?;/access_log %%TESTDIR%%\/access.log$1;/g;
    $conf =~ s/listen (\d+);/listen 127.0.0.1:%%PORT_$1%%;/g;
    $conf =~ s/^http \{/http {\n%%HTTP_GLOBALS%%/m;
    $conf =~ s{redis://127\.0\.0\.1:6379/0}{%%REDIS%%}g;
    $conf =~ s{/usr/local/share/micro/services\.pb}{$BUILD/gen/proto/services.pb}g;
    return "%%MODULES%%\n%%GLOBALS%%\n$conf";
}

# Writes the config; returns (ok, output) of nginx -t.
sub nginx_test {
    my ($self, $conf, $file) = @_;
    $file ||= 'nginx.conf';
    write_file("$self->{dir}/$file", $self->expand($conf));
    my @cmd = ($self->valgrind_prefix('nginx-t'), $NGINX, '-t',
        '-p', "$self->{dir}/", '-c', "$self->{dir}/$file",
        '-e', "$self->{dir}/error.log");
    my $out = `@cmd 2>&1`;
    my $code = $? >> 8;
    diag("valgrind reported errors in nginx -t") if $VALGRIND && $code == 97;
    return ($code == 0, $out);
}

sub nginx {
    my ($self, $conf) = @_;
    my ($ok, $out) = $self->nginx_test($conf);
    die "nginx -t failed:\n$out" unless $ok;
    unlink "$self->{dir}/nginx.pid";
    my $pid = $self->spawn('nginx', $self->valgrind_prefix('nginx'), $NGINX,
        '-p', "$self->{dir}/", '-c', "$self->{dir}/nginx.conf",
        '-e', "$self->{dir}/error.log");
    my @ports = @{ $self->{conf_ports} };
    wait_until(sub { -s "$self->{dir}/nginx.pid"
                     && !grep { !port_open($_) } @ports }, 'nginx')
        or die "nginx did not start, see $self->{dir}/error.log\n";
    $self->{nginx_pid} = $pid;
    return $pid;
}

sub nginx_stop {
    my ($self) = @_;
    my $pid = delete $self->{nginx_pid} or return;
    $self->stop($pid, 'QUIT');
    $self->check_logs();
}

# One test: the error log is free of alerts, emergencies and crashes, and
# valgrind (when on) found nothing.
sub check_logs {
    my ($self) = @_;
    my $log = read_file("$self->{dir}/error.log");
    my @bad = grep { /\[(alert|emerg)\]|exited on signal/ } split /\n/, $log;
    ok(!@bad, 'no alerts in the nginx error log')
        or diag(join "\n", @bad);
    $self->check_valgrind('nginx');
}

# valgrind's reports of the processes named NAME* (all when no name) that
# have not been read yet; only read those of processes that have exited.
sub check_valgrind {
    my ($self, $name) = @_;
    return unless $VALGRIND;
    my @reports;
    for my $f (glob "$self->{dir}/valgrind.${\($name // '')}*.log") {
        next if $self->{logs_checked}{$f}++;
        my $text = read_file($f);
        push @reports, "$f:\n$text" if $text =~ /\S/;
    }
    ok(!@reports, 'valgrind found no errors') or diag(join "\n", @reports);
}

# --- HTTP ----------------------------------------------------------------

sub http {
    my ($self, $method, $url, %opt) = @_;
    my $ua = HTTP::Tiny->new(timeout => $TIMEOUT, keep_alive => 0);
    return $ua->request($method, $url, \%opt);
}

# One HTTP exchange, the reply's JSON decoded: (status, JSON or undef,
# the HTTP::Tiny response).
sub json_call {
    my ($self, $method, $url, $body, %headers) = @_;
    my $r = $self->http($method, $url,
        defined $body ? (content => $body) : (), headers => \%headers);
    my $json = eval { JSON::PP::decode_json($r->{content}) };
    return ($r->{status}, $json, $r);
}

# Runs requests in a child process ($request->(HTTP::Tiny) returns true
# for a success) and $action->() each time the child has done as many as
# a mark in @$marks. The child goes on until it has done $n and every
# action has returned, so an action may wait for its effect (new workers,
# say) while the load runs. Returns how many requests failed.
sub under_load {
    my ($self, $n, $request, $marks, $action) = @_;
    my $progress = "$self->{dir}/load.progress";
    my $enough = "$self->{dir}/load.enough";
    unlink $progress, $enough;
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        my $ua = HTTP::Tiny->new(timeout => $TIMEOUT, keep_alive => 0);
        my $bad = 0;
        my $until = now() + 10 * $TIMEOUT;
        for (my $i = 1; $i <= $n || (!-e $enough && now() < $until); $i++) {
            $bad++ unless $request->($ua);
            write_file($progress, $i);
        }
        POSIX::_exit($bad > 255 ? 255 : $bad);
    }
    for my $mark (@$marks) {
        wait_until(sub { (read_file($progress) || 0) >= $mark },
                   "load at $mark");
        $action->();
    }
    write_file($enough, '');
    waitpid($pid, 0);
    return $? >> 8;
}

# Polls $url (micro_registry_status) until $workers different workers
# have answered with a snapshot for which $cond->(status) is true, and
# the last few answers all were: each worker follows the registry itself.
sub every_worker {
    my ($self, $url, $workers, $cond, $what) = @_;
    my %latest;
    my $streak = 0;
    return wait_until(sub {
        my $r = $self->http(GET => $url);
        my $st = eval { JSON::PP::decode_json($r->{content}) } || {};
        my $pid = $st->{registry}{worker} // return 0;
        $latest{$pid} = $cond->($st) ? 1 : 0;
        $streak = $latest{$pid} ? $streak + 1 : 0;
        return $streak >= 4 && (grep { $_ } values %latest) >= $workers;
    }, $what);
}

# The nginx master's pid.
sub nginx_master {
    my ($self) = @_;
    my $pid = read_file("$self->{dir}/nginx.pid");
    chomp $pid;
    return $pid;
}

# Ends a test file: stops nginx (checking its logs), then every other
# process this object started with TERM, waiting for each (services
# deregister and exit, valgrind writes its report), redis last; then reads
# valgrind's reports and removes the temp dir unless a test failed.
sub done {
    my ($self) = @_;
    $self->nginx_stop() if $self->{nginx_pid};
    $self->stop_all();
    $self->check_valgrind();
    $self->kill_all();
    if (Test::More->builder->is_passing && !$ENV{MICRO_TEST_KEEP}) {
        rmtree($self->{dir});
    } else {
        diag("test files kept in $self->{dir}");
    }
    $self->{done} = 1;
}

# Every process but redis with TERM, then redis: each one exits by itself.
sub stop_all {
    my ($self) = @_;
    my @pids = sort { ($self->{procs}{$a} eq 'redis')
                      <=> ($self->{procs}{$b} eq 'redis') }
               keys %{ $self->{procs} };
    $self->stop($_, 'TERM') for @pids;
}

# nginx gets TERM (its master then stops its workers, which KILL would
# leave behind); everything else KILL.
sub kill_all {
    my ($self) = @_;
    $_->() for @{ $self->{cleanups} || [] };  # what spawn did not start
    for my $pid (keys %{ $self->{procs} }) {
        $self->stop($pid, $self->{procs}{$pid} eq 'nginx' ? 'TERM' : 'KILL');
    }
}

# A test that died half-way: kill what it started, keep the files.
sub DESTROY {
    my ($self) = @_;
    return if $self->{done};
    $self->kill_all();
    print STDERR "# test files kept in $self->{dir}\n";
}

1;
