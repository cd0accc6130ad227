//go:build linux

package keyctl_test

import (
	"bufio"
	"net"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// listenEnv makes the test binary a listener that is no daemon: it
// listens where it is told, says "ready", and holds what it accepts until
// its stdin closes. Run as another uid, it is a hostile socket.
const listenEnv = "KEYCTL_TEST_LISTEN"

func TestMain(m *testing.M) {
	if path := os.Getenv(listenEnv); path != "" {
		os.Exit(listenUntilStdinCloses(path))
	}
	goleak.VerifyTestMain(m)
}

func listenUntilStdinCloses(path string) int {
	ln, err := net.Listen("unix", path)
	if err != nil {
		os.Stdout.WriteString(err.Error() + "\n")
		return 1
	}
	os.Chmod(path, 0o666)
	os.Stdout.WriteString("ready\n")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	bufio.NewReader(os.Stdin).ReadString('\n')
	ln.Close()
	return 0
}
