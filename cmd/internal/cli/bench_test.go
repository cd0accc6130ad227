//go:build linux

package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/internal/bigstore"
	"github.com/keyctl-go/keyctl-go/perms"
)

// cliBenchKeys is the size of the store BenchmarkCLIPrint answers from:
// the CLI must not load the store to answer one question, so its cost
// should be process start, as keyctl's is.
const cliBenchKeys = 1_000_000

// cliBench is the million-key store, built on first use and kept for the
// whole test process (-count=N runs every benchmark N times, each asking
// for it): it lives in TestMain's directory, which goes when the tests
// end (runThenRemove).
var cliBench struct {
	once sync.Once
	big  bigstore.Store
	err  error
}

func cliBenchStore(b *testing.B) bigstore.Store {
	b.Helper()
	s := &cliBench
	s.once.Do(func() {
		dir := filepath.Join(filepath.Dir(keyctlGo), "bench-store")
		if s.err = os.Mkdir(dir, 0o700); s.err == nil {
			s.big, s.err = bigstore.Build(dir, cliBenchKeys, perms.Cred{UID: 0, GID: 0})
		}
	})
	if s.err != nil {
		b.Fatal(s.err)
	}
	return s.big
}

// BenchmarkCLIPrint execs `keyctl-go print <id>` on a store of a million
// keys, the store opened by the command itself (no-daemon) or served by
// its per-user daemon (daemon), and by keyctl-go built without cgo
// (no-daemon-static); in-process runs the same command line in the
// benchmark's own process, which is keyctl-go's own share of a print. Compare BenchmarkGoHelloBaseline, the floor for any
// Go program, in the same run (target: ratio <= 1.3),
// BenchmarkGoHelloNetBaseline, the floor for one that links net, and
// BenchmarkKeyctlPrint, the real keyctl on a kernel key.
func BenchmarkCLIPrint(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("builds the store as root, whose quota holds a million keys")
	}
	big := cliBenchStore(b)
	id := strconv.Itoa(int(big.Sample))
	want := string(big.Payload) + "\n"
	printWith := func(bin string) func(b *testing.B) {
		return func(b *testing.B) {
			for b.Loop() {
				out, err := exec.Command(bin, "--db", big.Path, "print", id).Output()
				if err != nil || string(out) != want {
					b.Fatalf("keyctl-go print: %q, %v", out, err)
				}
			}
		}
	}
	b.Run("no-daemon", printWith(keyctlGo))
	b.Run("daemon", func(b *testing.B) {
		stop := startBenchDaemon(b, big.Path)
		defer stop()
		printWith(keyctlGo)(b)
	})
	// The command run in this process: what is keyctl-go's own in a
	// print (discovery, open, read, close), without starting a process.
	b.Run("in-process", func(b *testing.B) {
		env := func(k string) string { return os.Getenv(k) }
		var out bytes.Buffer
		for b.Loop() {
			out.Reset()
			a := newApp(strings.NewReader(""), &out, io.Discard, env)
			if code := run(b.Context(), a, []string{"--db", big.Path, "print", id}); code != 0 || out.String() != want {
				b.Fatalf("print in-process: exit %d, %q", code, out.String())
			}
		}
	})
	// keyctl-go built with CGO_ENABLED=0: statically linked, without the
	// C library's loading (see BenchmarkGoHelloNetBaseline).
	b.Run("no-daemon-static", printWith(buildOnce(b, "keyctl-go-static", "", "../../../cmd/keyctl-go", "CGO_ENABLED=0")))
}

// startBenchDaemon runs `keyctl-go --db db daemon`, where every command
// naming db looks for it, and returns once it answers; stop ends it with
// SIGTERM and waits, so that the store is let go for the next benchmark.
func startBenchDaemon(b *testing.B, db string) (stop func()) {
	b.Helper()
	socket, err := daemon.UserSocket(os.Getenv("XDG_RUNTIME_DIR"), db)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(keyctlGo, "--db", db, "daemon")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop = func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := daemon.Dial(context.Background(), socket)
		if err == nil {
			c.Close()
			return stop
		}
		if time.Now().After(deadline) {
			stop()
			b.Fatalf("the daemon never answered at %s: %v", socket, err)
		}
	}
}

// helloSource is BenchmarkGoHelloBaseline's program: a Go program that
// does nothing but start and print.
const helloSource = `package main

import "os"

func main() { os.Stdout.WriteString("hello\n") }
`

// helloNetSource is BenchmarkGoHelloNetBaseline's: the same, with package
// net linked, as every program that dials a Unix socket has it. With cgo
// enabled (go build's default where a C compiler is installed), net links
// the C library's resolver, and the program is dynamically linked.
const helloNetSource = `package main

import (
	"net"
	"os"
)

func main() {
	if net.ParseIP("127.0.0.1") != nil {
		os.Stdout.WriteString("hello\n")
	}
}
`

// built holds the programs the start-up benchmarks build, once per test
// process, in TestMain's directory (-count=N asks for each N times).
var built struct {
	mu   sync.Mutex
	bins map[string]string
}

// buildOnce builds a program (a main.go of source, or a package path if
// source is "") named name, with env added to go build's, and returns its
// path.
func buildOnce(b *testing.B, name, source, pkg string, env ...string) string {
	b.Helper()
	built.mu.Lock()
	defer built.mu.Unlock()
	if bin, ok := built.bins[name]; ok {
		return bin
	}
	dir := filepath.Join(filepath.Dir(keyctlGo), "bench-"+name)
	if err := os.Mkdir(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	if source != "" {
		files := map[string]string{"main.go": source, "go.mod": "module " + name + "\n\ngo 1.26.0\n"}
		for file, text := range files {
			if err := os.WriteFile(filepath.Join(dir, file), []byte(text), 0o600); err != nil {
				b.Fatal(err)
			}
		}
		cmd = exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = dir
	}
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building %s: %v\n%s", name, err, out)
	}
	if built.bins == nil {
		built.bins = map[string]string{}
	}
	built.bins[name] = bin
	return bin
}

// BenchmarkGoHelloBaseline execs a Go hello-world, built here as
// TestMain builds keyctl-go (go build, no flags, the same environment):
// what any Go program costs to start on this machine, the floor for
// BenchmarkCLIPrint.
func BenchmarkGoHelloBaseline(b *testing.B) {
	benchHello(b, buildOnce(b, "hello", helloSource, ""))
}

// BenchmarkGoHelloNetBaseline is BenchmarkGoHelloBaseline with package
// net linked: the floor of a Go program that talks to a daemon, built as
// keyctl-go is (cgo as go build decides).
func BenchmarkGoHelloNetBaseline(b *testing.B) {
	benchHello(b, buildOnce(b, "hellonet", helloNetSource, ""))
}

func benchHello(b *testing.B, bin string) {
	for b.Loop() {
		out, err := exec.Command(bin).Output()
		if err != nil || string(out) != "hello\n" {
			b.Fatalf("hello: %q, %v", out, err)
		}
	}
}

// BenchmarkKeyctlPrint execs the real `keyctl print <id>` on a kernel key
// in the user keyring, granted Read by its owner so that the child reads
// it whatever session it runs in.
func BenchmarkKeyctlPrint(b *testing.B) {
	keyctl, err := realKeyctl()
	if err != nil {
		b.Skip("no keyctl (apt-get install keyutils) to compare with")
	}
	id, err := unix.AddKey("user", "keyctl-go-bench-print", []byte("v0500000"), unix.KEY_SPEC_USER_KEYRING)
	if err != nil {
		b.Skipf("no kernel keyrings to compare with: %v", err)
	}
	defer unix.KeyctlInt(unix.KEYCTL_INVALIDATE, id, 0, 0, 0)
	if err := unix.KeyctlSetperm(id, 0x3f3f0000); err != nil {
		b.Fatal(err)
	}
	arg := strconv.Itoa(id)
	for b.Loop() {
		out, err := exec.Command(keyctl, "print", arg).Output()
		if err != nil || string(out) != "v0500000\n" {
			b.Fatalf("keyctl print: %q, %v", out, err)
		}
	}
}
