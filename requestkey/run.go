//go:build linux

package requestkey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/keyctl-go/keyctl-go/keyring"
)

// EnvAuthority is the environment variable that hands a helper its
// authority: "<key>:<token>". keyctl-go assumes it when it starts (see
// ParseAuthority).
const EnvAuthority = "KEYCTL_GO_AUTHORITY"

// DefaultTimeout bounds a helper: one still running then is killed, with
// every process in its process group, and the key is negated. The kernel
// waits for /sbin/request-key for as long as it takes.
const DefaultTimeout = 60 * time.Second

// MaxPipePayload is the most a "|" program may write to its stdout, in
// bytes; more is an error, as it is for request-key.
const MaxPipePayload = 32768

// helperPath is the PATH a helper gets after its private directory: the
// kernel's, for /sbin/request-key.
const helperPath = "/sbin:/bin:/usr/sbin:/usr/bin"

// Options configure how a helper is found and run. The zero value reads
// /etc, waits DefaultTimeout and logs nothing.
type Options struct {
	// ConfDir holds request-key.conf and request-key.d; "" is /etc.
	ConfDir string
	// Timeout bounds the helper; 0 is DefaultTimeout.
	Timeout time.Duration
	// Keyctl is the keyctl-go executable. A program named keyctl (any
	// directory) runs it instead, and so does "keyctl" found in the
	// helper's PATH, through a private directory put first in it. ""
	// leaves keyctl alone.
	Keyctl string
	// Env is added to the helper's environment, which is otherwise the
	// kernel's minimal one (HOME=/, PATH) and its authority: how it
	// reaches the store (KEYCTL_GO_SOCKET).
	Env []string
	// Helper returns a caller of the helper's own, for what request-key
	// does itself under the authority: instantiating the key with a "|"
	// program's output. The function it returns lets go of the caller.
	// nil makes the pipe form fail.
	Helper func(ctx context.Context) (keyring.Caller, func() error, error)
	// Logger receives what request-key sends to syslog: the helper's
	// output and why a construction failed. nil discards it.
	Logger *slog.Logger
}

// FormatAuthority is the value of EnvAuthority for a construction.
func FormatAuthority(c *keyring.Construction) string {
	return strconv.Itoa(int(c.Key)) + ":" + string(c.Token)
}

// ParseAuthority reads the value of EnvAuthority.
func ParseAuthority(v string) (keyring.Serial, keyring.AuthorityToken, error) {
	key, token, ok := strings.Cut(v, ":")
	n, err := strconv.ParseInt(key, 10, 32)
	if !ok || err != nil || n <= 0 || token == "" {
		return 0, "", fmt.Errorf("%s is not <key>:<token>", EnvAuthority)
	}
	return keyring.Serial(n), keyring.AuthorityToken(token), nil
}

// Request is request_key(2) with callout information, the helper
// included: caller asks the store; if the key must be built, the helper
// that the configuration names runs (Build), as the caller, and then the
// request is completed: the key, or the error the construction ended with
// (ENOKEY if the helper did nothing, or failed).
func Request(ctx context.Context, caller keyring.Caller, typ, desc string, callout []byte, dest keyring.Serial, opts Options) (keyring.Serial, error) {
	id, c, err := caller.RequestKeyWithCallout(ctx, typ, desc, callout, dest)
	if err != nil || c == nil {
		return id, err
	}
	if err := Build(ctx, caller, c, opts); err != nil {
		opts.logger().Warn("request-key: "+err.Error(), "key", c.Key)
	}
	// The key must end negated even if ctx ended: completing is not
	// optional.
	return caller.CompleteRequest(context.WithoutCancel(ctx), c.Key)
}

func (o Options) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Build runs /sbin/request-key's logic for construction c: it finds the
// configuration line for the "create" operation and runs its command, as
// the calling process, with the authority for c in its environment. It
// returns once the helper has exited, or been killed after the timeout.
// An error says why nothing was run or the helper failed; the key's state
// says the rest, and the caller completes the request either way.
// caller is the requester's, for %{type:description}.
func Build(ctx context.Context, caller keyring.Caller, c *keyring.Construction, opts Options) error {
	cfg, err := Load(opts.ConfDir)
	if err != nil {
		return err
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	b := &builder{opts: opts, cfg: cfg, c: c, caller: caller, log: opts.logger()}
	path := helperPath
	if dir, err := b.privateBin(); err != nil {
		// A program named keyctl still runs keyctl-go; "keyctl" looked up
		// in PATH does not.
		b.log.Warn("request-key: no private PATH directory for keyctl: "+err.Error(), "key", c.Key)
	} else if dir != "" {
		defer os.RemoveAll(dir)
		path = dir + ":" + path
	}
	b.env = append([]string{"HOME=/", "PATH=" + path, EnvAuthority + "=" + FormatAuthority(c)}, opts.Env...)
	return b.do(ctx, "create", false)
}

// builder is one run of request-key's logic.
type builder struct {
	opts   Options
	cfg    *Config
	c      *keyring.Construction
	caller keyring.Caller
	env    []string
	log    *slog.Logger
}

// privateBin makes the directory that goes first in the helper's PATH,
// holding "keyctl", a link to keyctl-go; "" if there is no keyctl-go. It
// is made in $TMPDIR (os.TempDir), mode 0700.
func (b *builder) privateBin() (string, error) {
	if b.opts.Keyctl == "" {
		return "", nil
	}
	dir, err := os.MkdirTemp("", "keyctl-go-request-key-")
	if err != nil {
		return "", fmt.Errorf("requestkey: %w", err)
	}
	if err := os.Symlink(b.opts.Keyctl, filepath.Join(dir, "keyctl")); err != nil {
		os.RemoveAll(dir)
		return "", fmt.Errorf("requestkey: %w", err)
	}
	return dir, nil
}

// do looks up op's line and runs it. A "|" program that fails makes it
// run the "negate" line instead, once (request-key's norecurse).
func (b *builder) do(ctx context.Context, op string, negating bool) error {
	r := Query{Op: op, Type: b.c.Type, Description: b.c.Description, Callout: string(b.c.Callout)}
	line, ok, err := b.cfg.Match(r)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("requestkey: no matching action for %s %s %q %q", op, r.Type, r.Description, r.Callout)
	}
	cmd, err := ParseCommand(line.Command)
	if err != nil {
		return fmt.Errorf("requestkey: %s: %w", line.where(), err)
	}
	argv, err := cmd.argv(ctx, op, b.c, b.readKey)
	if err != nil {
		return fmt.Errorf("requestkey: %s: %w", line.where(), err)
	}
	b.log.Debug("request-key: running", "line", line.where(), "pipe", cmd.Pipe, "argv", argv)
	if !cmd.Pipe {
		// request-key execs the program; the key's state, not its exit
		// status, says how it went.
		_, err := b.run(ctx, cmd.Program, argv, nil)
		return err
	}
	payload, err := b.run(ctx, cmd.Program, argv, b.c.Callout)
	if err != nil {
		if negating {
			return err
		}
		b.log.Info("request-key: "+err.Error()+"; negating", "key", b.c.Key)
		return b.do(ctx, "negate", true)
	}
	return b.instantiate(ctx, payload)
}

// readKey is %{type:description}: the key among the requester's keyrings,
// found without calling out again, and read.
func (b *builder) readKey(ctx context.Context, typ, desc string) ([]byte, error) {
	id, err := b.caller.RequestKey(ctx, typ, desc, 0)
	if err != nil {
		return nil, err
	}
	return b.caller.Read(ctx, id)
}

// instantiate is request-key's own keyctl_instantiate of a "|" program's
// output, under the authority.
func (b *builder) instantiate(ctx context.Context, payload []byte) error {
	if b.opts.Helper == nil {
		return errors.New("requestkey: no caller to instantiate the key with")
	}
	h, done, err := b.opts.Helper(ctx)
	if err != nil {
		return fmt.Errorf("requestkey: %w", err)
	}
	defer done()
	if _, err := h.AssumeAuthority(ctx, b.c.Key, b.c.Token); err != nil {
		return fmt.Errorf("requestkey: assuming the authority over key %d: %w", b.c.Key, err)
	}
	if err := h.Instantiate(ctx, b.c.Key, payload, 0); err != nil {
		return fmt.Errorf("requestkey: instantiate key failed: %w", err)
	}
	return nil
}

// run runs prog with argv in its own process group, and waits for it.
// With stdin (the "|" form) it feeds stdin and returns what the program
// wrote to stdout; a program that exits non-zero or is killed is an
// error. Otherwise only a program that could not run, or was killed at
// the timeout, is. What it writes to stderr (and, outside the "|" form,
// stdout) is logged.
func (b *builder) run(ctx context.Context, prog string, argv []string, stdin []byte) ([]byte, error) {
	path := prog
	if filepath.Base(prog) == "keyctl" && b.opts.Keyctl != "" {
		path = b.opts.Keyctl
	}
	cmd := exec.CommandContext(ctx, path)
	cmd.Args = argv
	cmd.Env = b.env
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// The whole group goes at the timeout: the helper's own children
	// (keyctl-go, holding the authority) with it.
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = time.Second // a child that kept stdout open must not hold Wait
	logw := &lineLogger{log: b.log, prog: argv[0]}
	defer logw.Flush()
	cmd.Stderr = logw
	var out limitedBuffer
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
		cmd.Stdout = &out
	} else {
		cmd.Stdout = logw
	}
	err := cmd.Run()
	if ctx.Err() != nil {
		return nil, fmt.Errorf("requestkey: %s killed after %v: %w", prog, b.opts.Timeout, ctx.Err())
	}
	if out.over {
		return nil, errors.New("requestkey: too much data read from query program")
	}
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		if stdin == nil {
			return nil, nil
		}
		return nil, fmt.Errorf("requestkey: %s: %v", prog, exit)
	}
	if err != nil {
		return nil, fmt.Errorf("requestkey: failed to execute %q: %w", prog, err)
	}
	return out.b.Bytes(), nil
}

// limitedBuffer keeps the first MaxPipePayload bytes written to it and
// notes whether there were more.
type limitedBuffer struct {
	b    bytes.Buffer
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := MaxPipePayload - l.b.Len(); len(p) > room {
		l.b.Write(p[:room])
		l.over = true
		return len(p), nil
	}
	return l.b.Write(p)
}

// lineLogger logs what a helper writes, a line at a time, as request-key
// sends its child's stderr to syslog.
type lineLogger struct {
	log  *slog.Logger
	prog string
	buf  []byte
}

func (l *lineLogger) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			break
		}
		l.log.Info("request-key: child: "+string(l.buf[:i]), "prog", l.prog)
		l.buf = l.buf[i+1:]
	}
	if len(l.buf) > 512 {
		l.Flush()
	}
	return len(p), nil
}

// Flush logs what is left without a newline.
func (l *lineLogger) Flush() {
	if len(l.buf) > 0 {
		l.log.Info("request-key: child: "+string(l.buf), "prog", l.prog)
		l.buf = nil
	}
}

var _ io.Writer = (*lineLogger)(nil)
