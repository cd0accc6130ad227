package linuxonly_test

import (
	"go/build/constraint"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// moduleRoot is the repository's root, from this package's directory.
const moduleRoot = "../.."

const guard = "github.com/keyctl-go/keyctl-go/internal/linuxonly"

// portable are the packages that build everywhere: plain text handling,
// and this package itself.
var portable = []string{"ccache", "internal/childtest", "internal/clib", "internal/keyspec", "internal/linuxonly", "keystore/internal/crc32c"}

// TestEveryPackageSaysLinuxOnly: in every package but the portable ones,
// every file builds on Linux only, and doc_other.go, which builds
// everywhere else, imports this package.
func TestEveryPackageSaysLinuxOnly(t *testing.T) {
	dirs := map[string][]string{} // package dir -> its .go files
	err := filepath.WalkDir(moduleRoot, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() && path != moduleRoot && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(name, ".go") {
			rel, _ := filepath.Rel(moduleRoot, filepath.Dir(path))
			dirs[filepath.ToSlash(rel)] = append(dirs[filepath.ToSlash(rel)], path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 20 {
		t.Fatalf("found only %d packages under %s", len(dirs), moduleRoot)
	}
	for dir, files := range dirs {
		if slices.Contains(portable, dir) {
			continue
		}
		hasDoc := false
		for _, f := range files {
			on := buildsOn(t, f)
			if filepath.Base(f) == "doc_other.go" {
				hasDoc = true
				if on("linux") || !on("darwin") || !on("windows") {
					t.Errorf("%s must build everywhere but Linux: //go:build !linux", f)
				}
				if !imports(t, f, guard) {
					t.Errorf("%s does not import %s, which says keyctl-go is Linux-only", f, guard)
				}
				continue
			}
			if !on("linux") || on("darwin") || on("windows") {
				t.Errorf("%s is in a Linux-only package: it needs //go:build linux", f)
			}
		}
		if !hasDoc {
			t.Errorf("package %s is Linux-only but has no doc_other.go importing %s", dir, guard)
		}
	}
}

// buildsOn returns whether file f builds on a GOOS, by its //go:build line.
func buildsOn(t *testing.T, f string) func(goos string) bool {
	t.Helper()
	src, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	var expr constraint.Expr
	for _, l := range strings.Split(string(src), "\n") {
		if strings.HasPrefix(l, "package ") {
			break
		}
		if constraint.IsGoBuild(l) {
			if expr, err = constraint.Parse(l); err != nil {
				t.Fatalf("%s: %v", f, err)
			}
		}
	}
	return func(goos string) bool {
		if expr == nil {
			return true
		}
		return expr.Eval(func(tag string) bool { return tag == goos || tag == "unix" && goos != "windows" })
	}
}

func imports(t *testing.T, f, path string) bool {
	t.Helper()
	file, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range file.Imports {
		if p, _ := strconv.Unquote(imp.Path.Value); p == path {
			return true
		}
	}
	return false
}

// TestOtherSystemsAreToldSo builds this package for macOS and Windows, as
// go build ./... there would, and reads the one message they get.
func TestOtherSystemsAreToldSo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build for another system with")
	}
	for _, goos := range []string{"darwin", "windows"} {
		cmd := exec.Command(goTool, "build", ".")
		cmd.Env = append(os.Environ(), "GOOS="+goos, "GOARCH=amd64", "CGO_ENABLED=0")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), `"keyctl-go is Linux-only"`) {
			t.Errorf("GOOS=%s go build: %v\n%s\nwant a failure saying keyctl-go is Linux-only", goos, err, out)
		}
	}
}

// TestPortablePackagesAreSo: what the portable packages import, built for
// macOS, is no Linux-only package of ours.
func TestPortablePackagesAreSo(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list packages with")
	}
	var pkgs []string
	for _, p := range portable {
		pkgs = append(pkgs, "github.com/keyctl-go/keyctl-go/"+p)
	}
	cmd := exec.Command(goTool, append([]string{"list", "-deps", "-f", "{{.ImportPath}}"}, pkgs...)...)
	cmd.Env = append(os.Environ(), "GOOS=darwin")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		rel, ours := strings.CutPrefix(dep, "github.com/keyctl-go/keyctl-go/")
		if ours && !slices.Contains(portable, rel) || dep == "golang.org/x/sys/unix" {
			t.Errorf("a portable package imports %s", dep)
		}
	}
}
