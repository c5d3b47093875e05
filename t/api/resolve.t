#!/usr/bin/perl
# Path -> service/endpoint resolution through nginx, with the modules'
# variables: go-micro's "micro" resolver rules and namespace joins, and
# micro web's routes. Loads conf.example/resolve.conf.

use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/../lib";
use Test::More;
use MicroTest;

my $t = MicroTest->new;
$t->nginx($t->example_conf('resolve.conf'));

sub get {
    my ($port, $path) = @_;
    my $r = $t->http(GET => "http://127.0.0.1:$port$path");
    return "$r->{status} $r->{content}";
}

my $api = $t->port('8080');
my %rules = (
    '/foo/bar'           => 'go.micro.api.foo Foo.Bar',
    '/foo/bar/baz'       => 'go.micro.api.foo Bar.Baz',
    '/foo/bar/baz/cat'   => 'go.micro.api.foo.bar Baz.Cat',
    '/v1/foo/bar'        => 'go.micro.api.v1.foo Foo.Bar',
    '/v1/foo/bar/baz'    => 'go.micro.api.v1.foo Bar.Baz',
    '/foo'               => 'go.micro.api.foo Foo.Call',
    '/foo/bar/baz-xyz'   => 'go.micro.api.foo Bar.BazXyz',
    '/foo/fooBar/bazCat' => 'go.micro.api.foo FooBar.BazCat',
    '/customer/orders'   => 'go.micro.api.customer Customer.Orders',
    '/foo//bar/./'       => 'go.micro.api.foo Foo.Bar',
    '/foo/bar?x=1'       => 'go.micro.api.foo Foo.Bar',
);
for my $path (sort keys %rules) {
    is(get($api, $path), "200 $rules{$path}\n", "api $path");
}

# Paths that name no service leave the variables empty.
for my $path ('/', '/foo_bar/baz', '/-foo/bar', '/foo/bar--baz', '/foo/b.r') {
    is(get($api, $path), "200  \n", "api $path does not resolve");
}

is(get($t->port('8081'), '/customer/orders'),
    "200 com.example.shop.customer Customer.Orders\n", 'own namespace');

my $web = $t->port('8082');
is(get($web, '/blog/posts/1'), "200 go.micro.web.blog /posts/1\n", 'web route');
is(get($web, '/blog'), "200 go.micro.web.blog /\n", 'web route, no path');
is(get($web, '/my-blog/a.css?v=1'), "200 go.micro.web.my-blog /a.css\n",
    'web route, any rest');
is(get($web, '/my_blog/x'), "200  \n", 'web name must be valid');

$t->nginx_stop;

# Namespace joins: trailing ".", trailing "-" (dots become dashes), empty.
my $joins = $t->nginx(<<'CONF');
%%MODULES%%
%%GLOBALS%%
http {
    %%HTTP_GLOBALS%%
    default_type text/plain;
    server {
        listen 127.0.0.1:%%PORT_joins%%;
        location /dot/ {
            micro_api_namespace "com.example.";
            return 200 "$micro_service $micro_endpoint\n";
        }
        location /dash/ {
            micro_api_namespace "foo-";
            return 200 "$micro_service $micro_endpoint\n";
        }
        location /none/ {
            micro_api_namespace "";
            return 200 "$micro_service $micro_endpoint\n";
        }
    }
    server {
        listen 127.0.0.1:%%PORT_path%%;
        micro_api_resolver path;
        location / { return 200 "$micro_service $micro_endpoint\n"; }
    }
    server {
        listen 127.0.0.1:%%PORT_host%%;
        micro_api_resolver host;
        micro_api_namespace "";
        location / { return 200 "$micro_service $micro_endpoint\n"; }
    }
}
CONF

my $p = $t->port('joins');
is(get($p, '/dot/x'), "200 com.example.dot Dot.X\n", 'namespace ending in .');
is(get($p, '/dash/v1/bar/x/y'), "200 foo-dash-v1-bar X.Y\n",
    'namespace ending in - turns dots into dashes');
is(get($p, '/none/x'), "200 none None.X\n", 'empty namespace');

my $pp = $t->port('path');
is(get($pp, '/greeter/say/hello'), "200 go.micro.api.greeter Say.Hello\n",
    'path resolver: first segment, then the endpoint');
is(get($pp, '/greeter/hello'), "200 go.micro.api.greeter Greeter.Hello\n",
    'path resolver: one segment after the name');
is(get($pp, '/a/b/c/d'), "200 go.micro.api.a C.D\n",
    'path resolver: the name is the first segment only');

my $hp = $t->port('host');
my ($hcode, undef, $hbody) = $t->raw_call("127.0.0.1:$hp",
    "GET /say/hello HTTP/1.1\r\nHost: greeter.example.com:8080\r\n"
    . "Connection: close\r\n\r\n");
is("$hcode $hbody", "200 greeter.example.com Say.Hello\n",
    'host resolver: the Host names the service');
$t->nginx_stop;

# nginx -t names a bad namespace and where it is.
my ($ok, $out) = $t->nginx_test(<<'CONF', 'bad.conf');
%%MODULES%%
%%GLOBALS%%
http {
    server {
        listen 127.0.0.1:%%PORT_bad%%;
        micro_api_namespace "go micro";
    }
}
CONF
ok(!$ok, 'nginx -t rejects an invalid namespace');
my ($line) = $out =~ /invalid namespace "go micro".* in \S+bad\.conf:(\d+)/;
ok($line, 'the error names the value and the file') or diag($out);
like((split /\n/, MicroTest::read_file($t->dir . '/bad.conf'))[$line - 1],
    qr/micro_api_namespace "go micro"/, 'and the right line');

$t->done;
done_testing();
