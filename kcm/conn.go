//go:build linux

package kcm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"time"

	"github.com/keyctl-go/keyctl-go/daemon"
)

// conn is one client connection: requests one at a time, each answered
// before the next is read, as MIT's client sends them.
type conn struct {
	srv    *Server
	uc     *net.UnixConn
	peer   daemon.Peer // as the kernel says, when the client connected
	socket string      // the listener's, for the log
	acct   *account
}

// readBufferSize is the connection's read buffer: most requests (a name,
// a principal, one credential) fit in one read.
const readBufferSize = 4 << 10

func (c *conn) serve() {
	defer c.srv.wg.Done()
	defer c.srv.remove(c)
	defer c.uc.Close()
	r := bufio.NewReaderSize(c.uc, readBufferSize)
	ctx := context.Background()
	for served := 0; ; served++ {
		timeout := c.srv.opts.IdleTimeout
		if served == 0 {
			timeout = min(timeout, c.srv.opts.FirstRequestTimeout)
		}
		// The deadline is set under the server's lock, so that it never
		// overrides the one Close sets to wake this reader.
		c.srv.mu.Lock()
		closed := c.srv.closed
		if !closed {
			c.uc.SetReadDeadline(time.Now().Add(timeout))
		}
		c.srv.mu.Unlock()
		if closed {
			return
		}
		frame, err := c.readFrame(r)
		if errors.Is(err, errTooLarge) {
			c.uc.Write(failureFrame(CodeIO))
			return
		}
		if err != nil {
			switch {
			case served == 0 && errors.Is(err, os.ErrDeadlineExceeded) && !c.srv.closing():
				c.srv.gate.NoFirstRequest(c.socket, c.peer, timeout)
			case !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, os.ErrDeadlineExceeded):
				c.srv.log.Info("kcm: connection ends", "uid", c.acct.uid, "pid", c.peer.PID, "err", err)
			}
			return
		}
		if _, err := c.uc.Write(c.srv.handle(ctx, c.acct, frame)); err != nil {
			return
		}
	}
}

// errTooLarge ends a connection whose request is longer than the limit:
// it is not read, so nothing after it could be found.
var errTooLarge = errors.New("kcm: request longer than the limit")

// readFrame reads one request: a big-endian u32 length, then that many
// bytes. The buffer grows with what arrives, not with what the length
// claims, so a client cannot make the server allocate what it does not
// send.
func (c *conn) readFrame(r *bufio.Reader) ([]byte, error) {
	var lb [4]byte
	if _, err := io.ReadFull(r, lb[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(lb[:])
	if uint64(n) > uint64(c.srv.opts.MaxRequestSize) {
		return nil, errTooLarge
	}
	var buf bytes.Buffer
	buf.Grow(min(int(n), readBufferSize))
	if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return buf.Bytes(), nil
}
