//go:build linux

package requestkey_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/requestkey"
)

// debianConf is the request-key.conf that Debian's keyutils 1.6.3
// installs.
func debianConf(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "debian-request-key.conf"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestMatchDebianConf(t *testing.T) {
	lines, err := requestkey.Parse("request-key.conf", debianConf(t))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &requestkey.Config{Lines: lines}
	for _, tc := range []struct {
		q    requestkey.Query
		want string // the command chosen, "" for none
	}{
		{requestkey.Query{"create", "user", "debug:x", "negate"}, "/bin/keyctl negate %k 30 %S"},
		{requestkey.Query{"create", "user", "debug:x", "rejected"}, "/bin/keyctl reject %k 30 %c %S"},
		{requestkey.Query{"create", "user", "debug:x", "expired"}, "/bin/keyctl reject %k 30 %c %S"},
		{requestkey.Query{"create", "user", "debug:loop:z", "abcdef"}, "|/bin/cat"},
		{requestkey.Query{"create", "user", "debug:lizard", "gizzard"}, "/usr/share/keyutils/request-key-debug.sh %k %d %c %S"},
		{requestkey.Query{"create", "dns_resolver", "afsdb:example.org", ""}, "/sbin/key.dns_resolver %k"},
		{requestkey.Query{"negate", "user", "debug:loop:z", "abc"}, "/bin/keyctl negate %k 30 %S"},
		{requestkey.Query{"create", "user", "wibble", "stuff"}, ""},
		{requestkey.Query{"update", "user", "debug:x", "y"}, ""},
	} {
		line, ok, err := cfg.Match(tc.q)
		if err != nil {
			t.Fatalf("%v: %v", tc.q, err)
		}
		if got := map[bool]string{true: line.Command}[ok]; got != tc.want {
			t.Errorf("%v: %q, want %q", tc.q, got, tc.want)
		}
	}
}

func TestMatchPrefersTheLeastWildLine(t *testing.T) {
	conf := "create * * * /bin/any\n" +
		"create user * * /bin/user\n" +
		"create user a* * /bin/a-star\n" +
		"create user ab* * /bin/ab-star\n" +
		"create user ab* * /bin/ab-star-again\n" + // a tie: the first read wins
		"create user *b * /bin/star-b\n" +
		"create user a*c * /bin/a-star-c\n"
	lines, err := requestkey.Parse("c", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	cfg := &requestkey.Config{Lines: lines}
	for desc, want := range map[string]string{
		"abx":  "/bin/ab-star",
		"ab":   "/bin/ab-star",
		"axc":  "/bin/a-star-c", // one byte under the wildcard, where ab* does not match
		"ac":   "/bin/a-star-c",
		"xb":   "/bin/star-b",
		"zzz":  "/bin/user",
		"abcd": "/bin/ab-star",
	} {
		line, ok, err := cfg.Match(requestkey.Query{Op: "create", Type: "user", Description: desc, Callout: "i"})
		if err != nil || !ok || line.Command != want {
			t.Errorf("%q: %q, %v, %v; want %q", desc, line.Command, ok, err, want)
		}
	}
	if line, _, _ := cfg.Match(requestkey.Query{Op: "create", Type: "logon", Description: "x", Callout: "i"}); line.Command != "/bin/any" {
		t.Errorf("logon: %q", line.Command)
	}
}

func TestParseAndSyntaxErrors(t *testing.T) {
	lines, err := requestkey.Parse("c", []byte("# comment\n\n  indented lines are comments too\n\tso are tabbed ones\n"+
		"create\tuser  d:*\t*   /bin/prog  a  b\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || strings.Join(lines[0].Patterns, ",") != "create,user,d:*,*" || lines[0].Command != "/bin/prog  a  b\r" || lines[0].Num != 5 {
		t.Fatalf("lines %+v", lines)
	}
	// A line that ends early is an error for a request that matches up to
	// there, and only for one.
	for _, tc := range []struct {
		conf  string
		q     requestkey.Query
		fails bool
	}{
		{"create\n", requestkey.Query{Op: "anything"}, true},
		{"create user\n", requestkey.Query{Op: "negate"}, false},
		{"create user\n", requestkey.Query{Op: "create"}, true},
		{"create user d:* *\n", requestkey.Query{"create", "logon", "d:x", "i"}, false},
		{"create user d:* *\n", requestkey.Query{"create", "user", "d:x", "i"}, true},
		{"create user d:* * \n", requestkey.Query{"create", "user", "d:x", "i"}, true},
		{"create user d:* *   /bin/x\n", requestkey.Query{"create", "user", "d:x", "i"}, false},
	} {
		lines, err := requestkey.Parse("c", []byte(tc.conf))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = (&requestkey.Config{Lines: lines}).Match(tc.q)
		if (err != nil) != tc.fails {
			t.Errorf("%q for %v: %v; want an error: %v", tc.conf, tc.q, err, tc.fails)
		}
	}
	long := "create user d * /bin/" + strings.Repeat("x", requestkey.MaxLine) + "\n"
	if _, err := requestkey.Parse("c", []byte(long)); err == nil || !strings.Contains(err.Error(), "c:1: line too long") {
		t.Errorf("overlong line: %v", err)
	}
	fits := "create user d * /bin/" + strings.Repeat("x", requestkey.MaxLine-22) + "\n"
	if len(fits) != requestkey.MaxLine {
		t.Fatalf("%d", len(fits))
	}
	if _, err := requestkey.Parse("c", []byte(fits)); err != nil {
		t.Errorf("a line of MaxLine bytes: %v", err)
	}
}

func TestLoadReadsTheDirectoryFirst(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("request-key.conf", "create user * * /bin/main\n")
	write("request-key.d/b.conf", "create user * * /bin/b\n")
	write("request-key.d/a.conf", "create user * * /bin/a\n")
	write("request-key.d/.hidden.conf", "create user * * /bin/hidden\n")
	write("request-key.d/c.conf.disabled", "create user * * /bin/disabled\n")
	if err := os.Mkdir(filepath.Join(dir, "request-key.d", "dir.conf"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := requestkey.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range cfg.Lines {
		got = append(got, l.Command)
	}
	if strings.Join(got, " ") != "/bin/a /bin/b /bin/main" {
		t.Fatalf("read %v", got)
	}
	line, _, _ := cfg.Match(requestkey.Query{"create", "user", "x", "y"})
	if line.Command != "/bin/a" || !strings.HasSuffix(line.File, "request-key.d/a.conf") {
		t.Fatalf("chose %+v, want the first read", line)
	}
	empty, err := requestkey.Load(t.TempDir())
	if err != nil || len(empty.Lines) != 0 {
		t.Fatalf("an empty directory: %+v, %v", empty, err)
	}
}

func TestParseCommand(t *testing.T) {
	c, err := requestkey.ParseCommand("|/usr/sbin/helper %k %%k %{user:secret} %xyz lit")
	if err != nil {
		t.Fatal(err)
	}
	if !c.Pipe || c.Program != "/usr/sbin/helper" || len(c.Args) != 5 ||
		c.Args[0].Macro != 'k' || c.Args[1].Literal != "%k" || c.Args[2].KeyType != "user" || c.Args[2].KeyDesc != "secret" ||
		c.Args[3].Literal != "%xyz" || c.Args[4].Literal != "lit" {
		t.Fatalf("%+v", c)
	}
	for cmd, want := range map[string]string{
		"":                                   "no arguments",
		"|":                                  "no arguments",
		"keyctl negate %k":                   "not a full path",
		"/bin/x %":                           "missing macro name",
		"/bin/x %q":                          "unsupported macro",
		"/bin/x %{user}":                     "lacks ':'",
		"/bin/x %{user:x":                    "unterminated",
		"/bin/x %{user:x}y":                  "trailing rubbish",
		"/bin/x %{:x}":                       "type empty",
		"/bin/x %{user:}":                    "description empty",
		"/bin/x" + strings.Repeat(" a", 254): "too many arguments",
	} {
		if _, err := requestkey.ParseCommand(cmd); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%.40q: %v, want %q", cmd, err, want)
		}
	}
	if _, err := requestkey.ParseCommand("/bin/x" + strings.Repeat(" a", 253)); err != nil {
		t.Errorf("253 arguments: %v", err)
	}
}
