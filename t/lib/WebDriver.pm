package WebDriver;

# A W3C WebDriver client, as small as the dashboard's tests need, for
# Debian's chromium driven by its chromium-driver (the same build, so the
# two always match). One session a test file, headless.

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use MicroTest;

my $ELEMENT = 'element-6066-11e4-a52e-4f735466cecf';

# Starts chromedriver (a process of the test $t) and a session.
sub new {
    my ($class, $t) = @_;
    my $port = MicroTest::free_port();
    my $pid = $t->spawn('chromedriver', '/usr/bin/chromedriver',
                        "--port=$port");
    MicroTest::wait_until(sub { MicroTest::port_open($port) }, 'chromedriver')
        or die "chromedriver did not start";
    my $self = bless { url => "http://127.0.0.1:$port", t => $t,
                       pid => $pid,
                       ua => HTTP::Tiny->new(timeout => 60) }, $class;
    my $profile = $t->dir . '/chromium';
    # a test that dies leaves chromium to its driver, which does not stop
    # it: the browser goes by its profile, which is this test's alone
    push @{ $t->{cleanups} }, sub {
        system('pkill', '-KILL', '-f', '--', $profile);
    };
    my $r = $self->cmd(POST => '/session', { capabilities => { alwaysMatch => {
        browserName => 'chrome',
        'goog:chromeOptions' => {
            binary => '/usr/bin/chromium',
            args => ['--headless=new', '--no-sandbox', '--disable-gpu',
                     '--disable-dev-shm-usage', '--window-size=1280,1000',
                     "--user-data-dir=$profile"],
        } } } });
    $self->{session} = $r->{sessionId} // die 'no session';
    return $self;
}

# One command: its "value", or a die with WebDriver's error.
sub cmd {
    my ($self, $method, $path, $body) = @_;
    my $url = $self->{url} . ($self->{session} && $path !~ m{^/session$}
                              ? "/session/$self->{session}$path" : $path);
    my $r = $self->{ua}->request($method, $url, {
        headers => { 'Content-Type' => 'application/json' },
        defined $body ? (content => JSON::PP::encode_json($body)) : () });
    my $json = eval { JSON::PP::decode_json($r->{content}) } || {};
    my $v = $json->{value};
    die "webdriver $method $path: " . ($v->{message} // $r->{content}) . "\n"
        if !$r->{success};
    return ref $v eq 'HASH' && exists $v->{sessionId} ? $v : $v;
}

sub get { $_[0]->cmd(POST => '/url', { url => $_[1] }) }

# Elements matching a CSS selector (ids), perhaps none.
sub find_all {
    my ($self, $css) = @_;
    my $v = $self->cmd(POST => '/elements', { using => 'css selector',
                                              value => $css });
    return map { $_->{$ELEMENT} } @$v;
}

# The first such element, waiting (bounded) for one to appear.
sub find {
    my ($self, $css) = @_;
    my $id;
    MicroTest::wait_until(sub { ($id) = $self->find_all($css); $id },
                          "element $css")
        or die "no $css in the page, which says:\n"
               . $self->script('return document.body.innerText') . "\n";
    return $id;
}

sub text {
    my ($self, $el) = @_;
    return $self->cmd(GET => "/element/$el/text");
}

# The texts of the elements matching a CSS selector, read in one script
# run: a page that redraws between a find and a read makes an element id
# stale, this cannot. The tab between a table row's cells becomes a
# space, as in WebDriver's own text ("a b c"); nothing else is changed.
sub texts {
    my ($self, $css) = @_;
    return @{ $self->script('return Array.from(document.querySelectorAll('
        . 'arguments[0]), (e) => e.innerText.replace(/\\t/g, " ")'
        . '.trim())', $css) };
}

# The text of the first element matching a CSS selector, waiting (bounded)
# for one to appear.
sub text_of {
    my ($self, $css) = @_;
    my $text;
    MicroTest::wait_until(sub { ($text) = $self->texts($css); defined $text },
                          "element $css")
        or die "no $css in the page\n";
    return $text;
}

# An attribute of each element matching a CSS selector, in one script run.
sub attrs {
    my ($self, $css, $name) = @_;
    return @{ $self->script('return Array.from(document.querySelectorAll('
        . 'arguments[0]), (e) => e.getAttribute(arguments[1]))', $css,
        $name) };
}

sub attr {
    my ($self, $el, $name) = @_;
    return $self->cmd(GET => "/element/$el/attribute/$name");
}

sub click { $_[0]->cmd(POST => "/element/$_[1]/click", {}) }
sub clear { $_[0]->cmd(POST => "/element/$_[1]/clear", {}) }

sub type {
    my ($self, $el, $text) = @_;
    $self->cmd(POST => "/element/$el/value", { text => $text });
}

sub script {
    my ($self, $js, @args) = @_;
    return $self->cmd(POST => '/execute/sync', { script => $js,
                                                 args => \@args });
}

# The page as a PNG in $file.
sub screenshot {
    my ($self, $file) = @_;
    my $png = decode_base64($self->cmd(GET => '/screenshot'));
    open my $fh, '>:raw', $file or die "$file: $!";
    print $fh $png;
    close $fh;
    return length $png;
}

sub quit {
    my ($self) = @_;
    eval { $self->cmd(DELETE => '') } if $self->{session};
    delete $self->{session};
    $self->{t}->stop($self->{pid}, 'TERM');
}

1;
