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
)

// manPage is keyctl-go's man page, from this package's directory.
const manPage = "../../../docs/keyctl-go.1"

// TestManPageRendersWithoutWarnings: man(1) formats the page with every
// groff warning on (man --warnings=w passes -ww), at a terminal's width,
// and has nothing to say on stderr.
func TestManPageRendersWithoutWarnings(t *testing.T) {
	man, err := exec.LookPath("man")
	if err != nil {
		t.Skip("man is not installed (Debian: man-db), so docs/keyctl-go.1 is not checked")
	}
	page, err := filepath.Abs(manPage)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(man, "--warnings=w", "-l", page)
	cmd.Env = append(os.Environ(), "MANWIDTH=80", "MANPAGER=cat", "PAGER=cat", "LC_ALL=C.UTF-8")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("man -l %s: %v\n%s", manPage, err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("man -l %s warns:\n%s", manPage, stderr.String())
	}
	for _, want := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "ENVIRONMENT", "FILES", "EXIT STATUS", "SEE ALSO"} {
		if !strings.Contains(stdout.String(), "\n"+want+"\n") {
			t.Errorf("the rendered page has no %s section", want)
		}
	}
}

// TestManPageNamesEveryCommand: the page's COMMANDS section has an entry
// for every command keyctl-go runs (the command table's rows, and
// daemon), and none for a command it does not, so that the page cannot
// drift from the table.
func TestManPageNamesEveryCommand(t *testing.T) {
	src, err := os.ReadFile(manPage)
	if err != nil {
		t.Fatal(err)
	}
	documented := manCommandEntries(string(src))
	if len(documented) == 0 {
		t.Fatalf("%s has no entries in its COMMANDS section", manPage)
	}
	runs := []string{daemonCommand}
	for _, c := range commands {
		runs = append(runs, c.name)
	}
	for _, name := range runs {
		if !slices.Contains(documented, name) {
			t.Errorf("%s does not document the command %s", manPage, name)
		}
	}
	for _, name := range documented {
		if !slices.Contains(runs, name) {
			t.Errorf("%s documents %s, which is not in the command table", manPage, name)
		}
	}
}

// manCommandEntries returns the command each entry of the COMMANDS
// section names: the first word of the tag after every .TP or .TQ, with
// the font escapes, quotes and escaped hyphens of roff taken off.
func manCommandEntries(src string) []string {
	var names []string
	inCommands, tag := false, false
	for line := range strings.Lines(src) {
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, ".SH "):
			inCommands = strings.TrimSpace(strings.TrimPrefix(line, ".SH ")) == "COMMANDS"
			tag = false
		case !inCommands:
		case line == ".TP" || line == ".TQ":
			tag = true
		case tag:
			tag = false
			if name := manTagCommand(line); name != "" {
				names = append(names, name)
			}
		}
	}
	return names
}

// manTagCommand is the first word a tag line shows: ".BI \"add \\fR[...\""
// shows "add", ".B \\-\\-version" shows "--version".
func manTagCommand(line string) string {
	if strings.HasPrefix(line, ".") {
		_, line, _ = strings.Cut(line, " ") // the font macro
	}
	r := strings.NewReplacer(`\-`, "-", `\&`, "", `"`, "", `\fB`, "", `\fI`, "", `\fR`, "", `\fP`, "")
	fields := strings.Fields(r.Replace(line))
	if len(fields) == 0 {
		return ""
	}
	return fields[0]
}
