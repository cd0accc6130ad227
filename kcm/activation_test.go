//go:build linux

package kcm_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/keyctl-go/keyctl-go/kcm"
)

// activationChild is set in the child that TestActivationListener starts
// with sockets in fds 3 and 4, as systemd starts a service.
const activationChild = "KCM_TEST_ACTIVATION_CHILD"

// TestActivationListener: of two sockets passed in either order, the one
// named "kcm" is taken, and the daemon's is left alone at fd 3 with the
// environment saying one socket, as daemon.ActivationListener wants.
func TestActivationListener(t *testing.T) {
	if os.Getenv(activationChild) != "" {
		activationChildMain()
		return
	}
	for _, order := range [][2]string{{"keyctl-go", kcm.ActivationName}, {kcm.ActivationName, "keyctl-go"}} {
		dir := t.TempDir()
		var files []*os.File
		for _, n := range order {
			ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: filepath.Join(dir, n), Net: "unix"})
			if err != nil {
				t.Fatal(err)
			}
			f, err := ln.File()
			ln.Close()
			if err != nil {
				t.Fatal(err)
			}
			files = append(files, f)
		}
		cmd := exec.Command(os.Args[0], "-test.run=^TestActivationListener$")
		cmd.ExtraFiles = files
		cmd.Env = append(os.Environ(), activationChild+"=1", "LISTEN_FDS=2", "LISTEN_FDNAMES="+order[0]+":"+order[1])
		out, err := cmd.CombinedOutput()
		for _, f := range files {
			f.Close()
		}
		if err != nil || !strings.Contains(string(out), "kcm=kcm fd3=keyctl-go LISTEN_FDS=1 LISTEN_FDNAMES=keyctl-go") {
			t.Fatalf("order %v: %v\n%s", order, err, out)
		}
	}
}

// activationChildMain runs in the child: LISTEN_PID is its own pid, as
// systemd sets it after the fork.
func activationChildMain() {
	os.Setenv("LISTEN_PID", fmt.Sprint(os.Getpid()))
	ln, err := kcm.ActivationListener()
	if err != nil || ln == nil {
		fmt.Println("ActivationListener:", ln, err)
		os.Exit(1)
	}
	sa, err := unix.Getsockname(3)
	if err != nil {
		fmt.Println("fd 3:", err)
		os.Exit(1)
	}
	fmt.Printf("kcm=%s fd3=%s LISTEN_FDS=%s LISTEN_FDNAMES=%s\n",
		filepath.Base(ln.Addr().String()), filepath.Base(sa.(*unix.SockaddrUnix).Name), os.Getenv("LISTEN_FDS"), os.Getenv("LISTEN_FDNAMES"))
	ln.Close()
	os.Exit(0)
}
