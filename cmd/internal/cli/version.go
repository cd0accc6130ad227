//go:build linux

package cli

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

// keyutilsVersion is the keyctl keyctl-go stands in for, named as keyctl
// names itself in --version: keyutils' test suite reads its version from
// that line (tests/prepare.inc.sh: the digits after the last
// "keyutils-"), and so may other scripts.
const keyutilsVersion = "keyutils-1.6.3"

// cmdVersion is `--version`: one line, as keyctl's, naming keyctl-go's own
// build and the keyctl it stands in for. keyctl ignores anything after
// --version, and so do we.
func cmdVersion(_ context.Context, a *app, _ []string) error {
	info, _ := debug.ReadBuildInfo()
	fmt.Fprintln(a.stdout, versionLine(info))
	return nil
}

// versionLine is --version's line for a binary built as info says:
//
//	keyctl-go <module version>[ <revision>[-dirty] <commit date>], a drop-in for keyctl from keyutils-1.6.3
//
// The module version is "(devel)" for a build from a checkout, v1.2.3 for
// `go install ...@v1.2.3`. The revision (its first 12 hex digits, as in Go's
// pseudo-versions) and the commit's date, in UTC, are there when the build
// was stamped with them (go build -buildvcs, in a git clone); -dirty says
// the tree had changes that were not committed.
func versionLine(info *debug.BuildInfo) string {
	var b strings.Builder
	b.WriteString("keyctl-go ")
	if info == nil || info.Main.Version == "" {
		b.WriteString("(unknown)")
	} else {
		b.WriteString(info.Main.Version)
	}
	var rev, date string
	var dirty bool
	if info != nil {
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value[:min(12, len(s.Value))]
			case "vcs.time":
				date, _, _ = strings.Cut(s.Value, "T") // RFC 3339, in UTC
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev != "" {
		b.WriteString(" " + rev)
		if dirty {
			b.WriteString("-dirty")
		}
		if date != "" {
			b.WriteString(" " + date)
		}
	}
	b.WriteString(", a drop-in for keyctl from " + keyutilsVersion)
	return b.String()
}
