//go:build linux

package cli

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionLine(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var s []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			s = append(s, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return s
	}
	const rev = "8f2a3c1d4e5f60718293a4b5c6d7e8f901234567"
	tests := []struct {
		info *debug.BuildInfo
		want string
	}{
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}},
			"keyctl-go (devel), a drop-in for keyctl from keyutils-1.6.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs", "git", "vcs.revision", rev, "vcs.time", "2026-12-06T10:11:12Z", "vcs.modified", "false")},
			"keyctl-go (devel) 8f2a3c1d4e5f 2026-12-06, a drop-in for keyctl from keyutils-1.6.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("vcs.revision", rev, "vcs.time", "2026-12-06T10:11:12Z", "vcs.modified", "true")},
			"keyctl-go (devel) 8f2a3c1d4e5f-dirty 2026-12-06, a drop-in for keyctl from keyutils-1.6.3"},
		{&debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}},
			"keyctl-go v1.2.3, a drop-in for keyctl from keyutils-1.6.3"},
		{nil, "keyctl-go (unknown), a drop-in for keyctl from keyutils-1.6.3"},
	}
	for _, tt := range tests {
		got := versionLine(tt.info)
		if got != tt.want {
			t.Errorf("versionLine = %q, want %q", got, tt.want)
		}
		// keyutils' tests/prepare.inc.sh reads the version so.
		if expr, err := exec.LookPath("expr"); err == nil {
			out, err := exec.Command(expr, got, ":", `.*keyutils-\([0-9.]*\).*`).Output()
			if err != nil || string(out) != "1.6.3\n" {
				t.Errorf("keyutils' test suite reads %q from %q (%v), want 1.6.3", out, got, err)
			}
		}
	}
}

// TestVersionNamesTheBuild: the built keyctl-go's --version names the
// module version and revision that `go version -m` reads from the same
// binary.
func TestVersionNamesTheBuild(t *testing.T) {
	out, err := exec.Command(keyctlGo, "--version", "ignored").Output()
	if err != nil {
		t.Fatal(err)
	}
	line := string(out)
	if strings.Count(line, "\n") != 1 || !strings.HasPrefix(line, "keyctl-go ") || !strings.HasSuffix(line, ", a drop-in for keyctl from keyutils-1.6.3\n") {
		t.Fatalf("--version printed %q", line)
	}
	meta, err := exec.Command("go", "version", "-m", keyctlGo).Output()
	if err != nil {
		t.Skipf("go version -m: %v", err)
	}
	for _, l := range strings.Split(string(meta), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 3 && f[0] == "mod" && !strings.HasPrefix(line, "keyctl-go "+f[2]):
			t.Errorf("--version printed %q; the module version is %s", line, f[2])
		case len(f) == 2 && strings.HasPrefix(f[1], "vcs.revision=") && !strings.Contains(line, " "+strings.TrimPrefix(f[1], "vcs.revision=")[:12]):
			t.Errorf("--version printed %q; the build is of %s", line, f[1])
		}
	}
}
