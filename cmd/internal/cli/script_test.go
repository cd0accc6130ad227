//go:build linux

package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/keyctl-go/keyctl-go/daemon"
	"github.com/keyctl-go/keyctl-go/keyctl"
)

// TestScripts runs the whole-shell workflows in testdata/script: each
// script is a sequence of real keyctl-go processes (this test binary,
// installed as keyctl-go by TestMain), in its own $WORK with its own store
// ($WORK/keys.db) and daemon socket beside it. A daemon a script starts
// is stopped when it ends, whatever happened.
//
// Commands the scripts have beyond testscript's own:
//
//	nosystemdaemon         until the script ends, keep the system daemon test
//	                       from serving /run/keyctl-go/socket (and fail if
//	                       a real one answers there)
//	stopdaemon             stop the store's daemon and wait until it is gone
//	heard FILE             add keys probe0, probe1... to @u, one every 100 ms, until
//	                       the watcher writing FILE has printed a line
//	                       (on failure, FILE.err is shown as its stderr)
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			db := filepath.Join(env.WorkDir, "keys.db")
			env.Setenv(envDB, db)
			env.Setenv(envSocket, "")
			env.Setenv(envSession, "")
			env.Setenv(envPassphraseFile, "")
			env.Setenv(envPassphraseFD, "")
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("XDG_RUNTIME_DIR", filepath.Join(env.WorkDir, "run"))
			// A script that unsets KEYCTL_GO_DB uses the default store
			// under its HOME: its daemon is stopped too.
			home := env.WorkDir
			defaultDB := filepath.Join(home, ".local", "share", "keyctl-go", "keys.db")
			env.Defer(func() {
				for _, db := range []string{db, defaultDB} {
					if err := stopDaemon(db, env.Getenv("XDG_RUNTIME_DIR"), home); err != nil {
						env.T().Log(err)
					}
				}
			})
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"nosystemdaemon": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: nosystemdaemon")
				}
				unlock, err := holdSystemSocket(false)
				if err != nil {
					ts.Fatalf("%v", err)
				}
				ts.Defer(unlock)
				if c, err := daemon.Dial(context.Background(), daemon.SystemSocket); err == nil {
					c.Close()
					ts.Fatalf("a system daemon answers at %s: this script is about a machine without one", daemon.SystemSocket)
				}
			},
			"stopdaemon": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 0 {
					ts.Fatalf("usage: stopdaemon")
				}
				ts.Check(stopDaemon(ts.Getenv(envDB), ts.Getenv("XDG_RUNTIME_DIR"), ts.Getenv("HOME")))
			},
			"heard": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 1 {
					ts.Fatalf("usage: heard FILE")
				}
				// The watcher sets its watch a moment after it starts:
				// change @u until it hears something. Each probe is a new
				// key: adding one already there would update it, which
				// posts nothing on @u.
				deadline := time.Now().Add(10 * time.Second)
				for i := 0; ; i++ {
					if b, _ := os.ReadFile(ts.MkAbs(args[0])); len(b) > 0 {
						return
					}
					if time.Now().After(deadline) {
						errs, _ := os.ReadFile(ts.MkAbs(args[0] + ".err"))
						ts.Fatalf("the watcher heard nothing in 10 s; its stderr: %s", errs)
					}
					var out, errb bytes.Buffer
					a := newApp(strings.NewReader(""), &out, &errb, ts.Getenv)
					if code := run(context.Background(), a, []string{"add", "user", "probe" + strconv.Itoa(i), "v", "@u"}); code != 0 {
						ts.Fatalf("adding a probe: %s", errb.String())
					}
					time.Sleep(100 * time.Millisecond)
				}
			},
		},
	})
}

// stopDaemon ends the daemon serving db, if one runs: SIGTERM, as its
// service manager would, to the process whose command line names db and
// "daemon" (the one ensureDaemon starts), then waits for its socket, in
// runtimeDir (the default store's, if db is the one under home), to stop
// answering.
func stopDaemon(db, runtimeDir, home string) error {
	vars := map[string]string{"XDG_RUNTIME_DIR": runtimeDir, "HOME": home}
	socket, err := keyctl.Options{Store: db, Getenv: func(k string) string { return vars[k] }}.StoreSocket()
	if err != nil {
		return err
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || !strings.Contains(string(b), "\x00"+db+"\x00daemon") {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		syscall.Kill(pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := daemon.Dial(context.Background(), socket)
		if err != nil {
			return nil
		}
		c.Close()
		time.Sleep(20 * time.Millisecond)
	}
	return errors.New(fmt.Sprint("the daemon for ", db, " did not stop"))
}
