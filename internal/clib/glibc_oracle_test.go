package clib_test

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyctl-go/keyctl-go/internal/clib"
)

// oracleProgram runs glibc's own functions on what the test sends it, one
// request a line: "u <base> <hex of s>" answers strtoul's value, how many
// bytes it read and whether it set ERANGE; "a <hex of s>" answers atoi;
// "c" answers isspace and isprint for every byte. Strings go in hex so
// that any byte, newlines included, passes; a NUL ends them early in C,
// so the test sends none.
const oracleProgram = `
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *unhex(const char *h) {
	size_t n = strlen(h) / 2;
	char *s = malloc(n + 1);
	for (size_t i = 0; i < n; i++) sscanf(h + 2 * i, "%2hhx", (unsigned char *)&s[i]);
	s[n] = 0;
	return s;
}

int main(void) {
	char line[65536];
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = 0;
		if (line[0] == 'u') {
			char *h;
			int base = (int)strtol(line + 2, &h, 10);
			char *s = unhex(h + 1), *end;
			errno = 0;
			unsigned long v = strtoul(s, &end, base);
			printf("%lu %ld %d\n", v, (long)(end - s), errno == ERANGE);
			free(s);
		} else if (line[0] == 'a') {
			char *s = unhex(line + 2);
			printf("%d\n", atoi(s));
			free(s);
		} else if (line[0] == 'c') {
			for (int c = 0; c < 256; c++) printf("%d%d", !!isspace(c), !!isprint(c));
			printf("\n");
		}
		fflush(stdout);
	}
	return 0;
}
`

// glibc compiles oracleProgram and returns a function that asks it one
// request; the test skips where there is no C compiler.
func glibc(t *testing.T) func(format string, args ...any) string {
	t.Helper()
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler (apt-get install gcc) to ask glibc")
	}
	dir := t.TempDir()
	src, bin := filepath.Join(dir, "oracle.c"), filepath.Join(dir, "oracle")
	if err := os.WriteFile(src, []byte(oracleProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(cc, "-O2", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, out)
	}
	cmd := exec.Command(bin)
	cmd.Env = []string{"LC_ALL=C"}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Wait() })
	out := bufio.NewReader(outPipe)
	return func(format string, args ...any) string {
		t.Helper()
		fmt.Fprintf(in, format+"\n", args...)
		line, err := out.ReadString('\n')
		if err != nil {
			t.Fatalf("the glibc oracle: %v", err)
		}
		return strings.TrimSuffix(line, "\n")
	}
}

// TestAgainstGlibc asks glibc's strtoul, atoi, isspace and isprint about
// the table cases and about random strings made of the characters that
// matter to them, and compares.
func TestAgainstGlibc(t *testing.T) {
	ask := glibc(t)

	got := ask("c")
	var want strings.Builder
	for c := range 256 {
		fmt.Fprintf(&want, "%d%d", b2i(clib.IsSpace(byte(c))), b2i(clib.IsPrint(byte(c))))
	}
	if got != want.String() {
		t.Errorf("isspace, isprint differ from glibc's:\nglibc %s\nclib  %s", got, want.String())
	}

	inputs := []string{}
	for _, tt := range strtoulCases {
		inputs = append(inputs, tt.s)
	}
	for _, tt := range atoiCases {
		inputs = append(inputs, tt.s)
	}
	const alphabet = " \t\v+-0123456789xXabcfgzAFZ_\x80\xa0"
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		b := make([]byte, r.IntN(24))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		inputs = append(inputs, string(b))
	}
	for _, s := range inputs {
		if strings.IndexByte(s, 0) >= 0 {
			continue // C would stop at the NUL
		}
		h := hex.EncodeToString([]byte(s))
		for _, base := range []int{0, 8, 10, 16, 36} {
			n, rest, err := clib.Strtoul(s, base)
			want := fmt.Sprintf("%d %d %d", n, len(s)-len(rest), b2i(err == clib.ErrRange))
			if got := ask("u %d %s", base, h); got != want {
				t.Errorf("strtoul(%q, %d): glibc %s, clib %s", s, base, got, want)
			}
		}
		if got, want := ask("a %s", h), fmt.Sprint(clib.Atoi(s)); got != want {
			t.Errorf("atoi(%q): glibc %s, clib %s", s, got, want)
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
