//go:build linux

package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// EtcdProgram is the program that serves the --etcd options: keyctl-go
// with etcd's client linked in (cmd/keyctl-go-etcd). keyctl-go looks for
// it beside itself, then in $PATH.
const EtcdProgram = "keyctl-go-etcd"

// errNoEtcd is a store in etcd opened by a build that cannot: only
// reached if the hand-over in dispatch is bypassed.
var errNoEtcd = errors.New("this build of keyctl-go has no etcd client: run " + EtcdProgram)

// execEtcdProgram replaces this process with EtcdProgram, given the same
// arguments and environment; it returns only if that fails (exit 1).
func (a *app) execEtcdProgram() int {
	prog, err := findEtcdProgram()
	if err == nil {
		a.stdout.Flush()
		err = syscall.Exec(prog, append([]string{EtcdProgram}, a.args...), os.Environ())
	}
	fmt.Fprintf(a.stderr, "keyctl-go: the --etcd options need %s, beside keyctl-go or in PATH (go install github.com/keyctl-go/keyctl-go/cmd/%s@latest): %v\n", EtcdProgram, EtcdProgram, err)
	return 1
}

// findEtcdProgram is EtcdProgram's path: beside this executable (an
// install puts both in one directory), else the first in $PATH.
func findEtcdProgram() (string, error) {
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), EtcdProgram)
		if st, err := os.Stat(beside); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
			return beside, nil
		}
	}
	return exec.LookPath(EtcdProgram)
}
