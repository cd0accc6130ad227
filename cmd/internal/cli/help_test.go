//go:build linux

package cli

import (
	"bytes"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// `keyctl-go --help` prints keyctl-go's own usage, with the rule of where
// the keys are, and exits 0; keyctl's Format listing stays what no
// arguments print (the golden usage test holds it byte for byte).
func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-h"}, {"--db", "x.db", "--help"}} {
		out, err := exec.Command(keyctlGo, args...).Output()
		if err != nil {
			t.Fatalf("keyctl-go %v: %v", args, err)
		}
		for _, want := range []string{"--socket <path>", "KEYCTL_GO_SOCKET", "KEYCTL_GO_DB", "/run/keyctl-go/socket",
			"1. --socket", "2. --db", "3. The system daemon", "4. Your own daemon", "5. Your own store",
			"--etcd <endpoints>", "--etcd-prefix <name>", "--etcd-cacert <file>", "--etcd-cert <file> --etcd-key <file>",
			"KEYCTL_GO_ETCD_PREFIX", "KEYCTL_GO_ETCD_PASSWORD"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("keyctl-go %v does not mention %q", args, want)
			}
		}
	}
	var stderr bytes.Buffer
	cmd := exec.Command(keyctlGo)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil || !strings.HasPrefix(stderr.String(), "Format:\n  keyctl --version \n  keyctl add ") {
		t.Errorf("keyctl-go without arguments: %v, %q; want keyctl's Format listing, exit 2", err, stderr.String())
	}
}

// `keyctl-go daemon --help` names every option the daemon takes, status
// too, and every environment variable it reads.
func TestDaemonHelp(t *testing.T) {
	out, err := exec.Command(keyctlGo, "daemon", "--help").Output()
	if err != nil {
		t.Fatal(err)
	}
	options := regexp.MustCompile(`--[a-z-]+`).FindAllString(daemonFormat, -1)
	if len(options) < 7 {
		t.Fatalf("the daemon's Format names only %v", options)
	}
	for _, want := range append(options, "daemon status", "--db", "KEYCTL_GO_DB", "XDG_RUNTIME_DIR", "XDG_DATA_HOME",
		"KEYCTL_GO_PASSPHRASE_FILE", "KEYCTL_GO_PASSPHRASE_FD", "--etcd", "KEYCTL_GO_ETCD", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM") {
		if !strings.Contains(string(out), want) {
			t.Errorf("keyctl-go daemon --help does not mention %s", want)
		}
	}
}
