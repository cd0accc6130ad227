//go:build linux

// Package dbustest starts a private D-Bus message bus for tests: a real
// dbus-daemon listening on a Unix socket in a temporary directory, with
// an empty service directory, so that nothing is started on demand and
// only the provider under test can answer for a name. It is for tests
// only.
package dbustest

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Bus is a running private bus.
type Bus struct {
	// Address is the bus's address, for DBUS_SESSION_BUS_ADDRESS.
	Address string
	// Socket is the path it listens on.
	Socket string

	cmd *exec.Cmd
}

// Stop kills the bus, as a session's end does.
func (b *Bus) Stop() {
	b.cmd.Process.Kill()
	b.cmd.Wait()
}

// Options configure a bus.
type Options struct {
	// AnyUser lets every uid connect; otherwise only the uid the bus runs
	// as may, as on a session bus.
	AnyUser bool
	// Dir is where the socket goes; "" makes a directory of its own. A
	// bus other uids may connect to needs a Dir they may enter.
	Dir string
	// Services are D-Bus service files (name to contents) the bus may
	// start services from on demand; none by default.
	Services map[string]string
	// Credential runs the bus as another user, whose bus it then is; Dir
	// must be one that user may write.
	Credential *syscall.Credential
}

// Start starts dbus-daemon, or skips the test if it is not installed. The
// bus stops when the test ends, or earlier with Stop.
func Start(t testing.TB, opts Options) *Bus {
	t.Helper()
	daemon, err := exec.LookPath("dbus-daemon")
	if err != nil {
		t.Skip("dbus-daemon is not installed (Debian: dbus-daemon): no private bus to test on")
	}
	dir := opts.Dir
	if dir == "" {
		dir = t.TempDir()
	}
	services := filepath.Join(dir, "services")
	if err := os.MkdirAll(services, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, body := range opts.Services {
		if err := os.WriteFile(filepath.Join(services, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(dir, "bus")
	policy := ""
	if opts.AnyUser {
		policy = `<allow user="*"/>`
	}
	conf := fmt.Sprintf(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <servicedir>%s</servicedir>
  <policy context="default">
    %s
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`, socket, services, policy)
	confPath := filepath.Join(dir, "bus.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(daemon, "--config-file="+confPath, "--nofork", "--print-address=1")
	// Services the bus started inherit its stderr; Wait must not wait for
	// them to close it.
	cmd.WaitDelay = time.Second
	if opts.Credential != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: opts.Credential}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	bus := &Bus{Socket: socket, cmd: cmd}
	t.Cleanup(bus.Stop)
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		lines <- strings.TrimSpace(line)
	}()
	select {
	case addr := <-lines:
		if addr == "" {
			t.Fatalf("dbus-daemon printed no address: %s", stderr.String())
		}
		if opts.AnyUser {
			if err := os.Chmod(socket, 0o777); err != nil {
				t.Fatal(err)
			}
		}
		bus.Address = addr
		return bus
	case <-time.After(10 * time.Second):
		t.Fatalf("dbus-daemon did not start: %s", stderr.String())
	}
	return nil
}
