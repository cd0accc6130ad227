//go:build linux

package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/keyspec"
)

// completionScript is the contrib copy of the script, which go generate
// writes.
const completionScript = "../../../contrib/bash-completion/keyctl-go"

// TestBashCompletion sources the script in bash, sets COMP_WORDS and
// COMP_CWORD as bash does when the user presses TAB, and checks what it
// offers.
func TestBashCompletion(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("no bash to complete with")
	}
	var script bytes.Buffer
	writeBashCompletion(&script)
	dir := t.TempDir()
	for _, f := range []string{"foo.db", "log1"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	scriptFile := filepath.Join(t.TempDir(), "keyctl-go.bash")
	if err := os.WriteFile(scriptFile, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	// complete asks for the words the current one completes to.
	complete := func(words ...string) []string {
		t.Helper()
		var quoted []string
		for _, w := range words {
			quoted = append(quoted, "'"+w+"'")
		}
		prog := ". " + scriptFile + "\n" +
			"complete -p keyctl-go >/dev/null || exit 3\n" +
			"COMP_WORDS=(" + strings.Join(quoted, " ") + ")\n" +
			"COMP_CWORD=$((${#COMP_WORDS[@]} - 1))\n" +
			"_keyctl_go\n" +
			`printf '%s\n' "${COMPREPLY[@]}"` + "\n"
		cmd := exec.Command(bash, "--norc", "--noprofile", "-c", prog)
		cmd.Dir = dir
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Fatalf("completing %q: %v\n%s", words, err, stderr.String())
		}
		return strings.Fields(string(out))
	}
	specials := []string{"@t", "@p", "@s", "@u", "@us", "@g", "@a"}
	tests := []struct {
		words []string
		want  []string
	}{
		{[]string{"keyctl-go", "li"}, []string{"link", "list"}},
		{[]string{"keyctl-go", "comp"}, []string{"completion"}},
		{[]string{"keyctl-go", "da"}, []string{"daemon"}},
		{[]string{"keyctl-go", "--v"}, []string{"--version"}},
		{[]string{"keyctl-go", "--db", "x.db", "sh"}, []string{"show"}},
		{[]string{"keyctl-go", "--passphrase", "--socket", "s", "rev"}, []string{"revoke"}},
		{[]string{"keyctl-go", "--db", "f"}, []string{"foo.db"}},
		{[]string{"keyctl-go", "--etcd-c"}, []string{"--etcd-cacert", "--etcd-cert"}},
		{[]string{"keyctl-go", "--etcd", "127.0.0.1:2379", "--etcd-prefix", "fleet", "da"}, []string{"daemon"}},
		{[]string{"keyctl-go", "--etcd-cacert", "f"}, []string{"foo.db"}},
		{[]string{"keyctl-go", "--etcd-cert", "c.pem", "--etcd-key", "f"}, []string{"foo.db"}},
		{[]string{"keyctl-go", "daemon", "--lin"}, []string{"--linearizable"}},
		{[]string{"keyctl-go", "read", "@"}, specials},
		{[]string{"keyctl-go", "read", "@u"}, []string{"@u", "@us"}},
		{[]string{"keyctl-go", "read", "12", ""}, nil},
		{[]string{"keyctl-go", "add", "u"}, []string{"user"}},
		{[]string{"keyctl-go", "add", "-"}, []string{"-x"}},
		{[]string{"keyctl-go", "add", "user", "d", "data", "@s"}, []string{"@s"}},
		{[]string{"keyctl-go", "add", "-x", "user", "d", "00", "@g"}, []string{"@g"}},
		{[]string{"keyctl-go", "add", "user", "-x", "data", "@"}, specials}, // "-x" is the description here
		{[]string{"keyctl-go", "move", "-f", "1", "@s", "@u"}, []string{"@u", "@us"}},
		{[]string{"keyctl-go", "search", "@s", "l"}, []string{"logon"}},
		{[]string{"keyctl-go", "purge", "-s", "b"}, []string{"big_key"}},
		{[]string{"keyctl-go", "supports", "mo"}, []string{"move_key"}},
		{[]string{"keyctl-go", "supports", "--"}, []string{"--raw"}},
		{[]string{"keyctl-go", "krb5", "w"}, []string{"watch"}},
		{[]string{"keyctl-go", "fsck", "--"}, []string{"--repair", "--db"}},
		{[]string{"keyctl-go", "fsck", "--db", "fo"}, []string{"foo.db"}},
		{[]string{"keyctl-go", "completion", ""}, []string{"bash"}},
		{[]string{"keyctl-go", "daemon", "--kcm-s"}, []string{"--kcm-socket"}},
		{[]string{"keyctl-go", "daemon", "--socket", "fo"}, []string{"foo.db"}},
		{[]string{"keyctl-go", "watch", "-fl", "@s"}, []string{"@s"}},
		{[]string{"keyctl-go", "watch_session", "-n", "name", "lo"}, []string{"log1"}},
		{[]string{"keyctl-go", "watch_session", "-fl", "log1", "log1", "3", "tru"}, nil},        // a program: see below
		{[]string{"keyctl-go", "watch_session", "-n", "name", "log1", "log1", "3", "tru"}, nil}, // likewise, -n's value skipped
		{[]string{"keyctl-go", "session", ""}, []string{"-"}},
		{[]string{"keyctl-go", "nosuchcommand", ""}, nil},
	}
	for _, tt := range tests {
		got := complete(tt.words...)
		if tt.words[len(tt.words)-1] == "tru" {
			// compgen -c offers what PATH holds: ask only for true.
			if !slices.Contains(got, "true") {
				t.Errorf("%q: %q, want a list holding true", tt.words, got)
			}
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%q: %q, want %q", tt.words, got, tt.want)
		}
	}
	for _, id := range specials {
		if spec, err := keyspec.Parse(id); err != nil || spec.ByName {
			t.Errorf("the script offers %s, which keyctl reads as %+v, %v", id, spec, err)
		}
	}
}

// TestBashCompletionFileIsCurrent: the copy in contrib/ is what the
// generator writes today.
func TestBashCompletionFileIsCurrent(t *testing.T) {
	got, err := os.ReadFile(completionScript)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	writeBashCompletion(&want)
	if !bytes.Equal(got, want.Bytes()) {
		t.Errorf("%s is not what keyctl-go completion bash writes now: run go generate ./cmd/internal/cli", completionScript)
	}
}

// TestCompletionKeyTypes: every type the script completes is one the
// store makes.
func TestCompletionKeyTypes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keys.db")
	for _, typ := range completionKeyTypes {
		desc, data := "completion", "data"
		switch typ {
		case "logon":
			desc = "completion:logon" // logon descriptions need a "service:"
		case "keyring":
			data = ""
		}
		if _, errs, code := keyctlRun(t, db, "", "add", typ, desc, data, "@u"); code != 0 {
			t.Errorf("add %s: exit %d, %s", typ, code, errs)
		}
	}
}

func TestCompletionCommand(t *testing.T) {
	out, _, code := keyctlRun(t, filepath.Join(t.TempDir(), "keys.db"), "", "completion", "bash")
	if code != 0 || !strings.Contains(out, "complete -F _keyctl_go keyctl-go") {
		t.Errorf("completion bash: exit %d, %q", code, out)
	}
	for _, args := range [][]string{{"completion"}, {"completion", "zsh"}, {"completion", "bash", "x"}} {
		if _, errs, code := keyctlRun(t, "", "", args...); code != 2 || errs != completionUsage+"\n" {
			t.Errorf("%q: exit %d, %q; want 2 and completion's usage", args, code, errs)
		}
	}
}
