//go:build linux

// Package etcdtest runs real etcd clusters for tests: three members of the
// system's etcd (Debian's etcd-server) on 127.0.0.1, in a temporary
// directory, with a clean environment, stopped by pid.
//
// One cluster per test package is shared (Shared, stopped by Stop from
// TestMain), and each test takes a prefix of its own (Prefix); a test that
// kills, stops or compacts gets a cluster of its own (Start). A test on a
// machine without etcd is skipped, saying so.
package etcdtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Members is the number of members of a cluster.
const Members = 3

// healthTimeout bounds the wait for a new cluster to be healthy: one is
// healthy in 1 to 2.5 s on a quiet machine.
const healthTimeout = 30 * time.Second

// MaxTxnOps is what the members take in one transaction (--max-txn-ops):
// emptying a keyring of many keys is one transaction of many rows.
const MaxTxnOps = 4096

// Cluster is a running cluster.
type Cluster struct {
	Dir     string
	members []*Member
}

// Member is one etcd process.
type Member struct {
	Name       string
	ClientPort int
	PeerPort   int
	dir        string
	args       []string
	cmd        *exec.Cmd
	log        *os.File
}

// Endpoint is the member's client address.
func (m *Member) Endpoint() string { return "127.0.0.1:" + strconv.Itoa(m.ClientPort) }

// DataDir is where the member keeps its data.
func (m *Member) DataDir() string { return m.dir }

// Pid is the member's process id, 0 if it is not running.
func (m *Member) Pid() int {
	if m.cmd == nil || m.cmd.Process == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Signal sends sig to the member (SIGSTOP, SIGCONT).
func (m *Member) Signal(sig syscall.Signal) error { return syscall.Kill(m.Pid(), sig) }

// Kill kills the member with SIGKILL and reaps it.
func (m *Member) Kill() {
	if m.cmd == nil {
		return
	}
	m.cmd.Process.Signal(syscall.SIGCONT)
	m.cmd.Process.Kill()
	m.cmd.Wait()
	m.cmd = nil
}

// Restart starts a killed member again on its data directory.
func (m *Member) Restart() error { return m.start() }

var (
	sharedOnce sync.Once
	shared     *Cluster
	sharedErr  error
)

// Shared returns the package's shared cluster, starting it on first use;
// Stop stops it. A test on a machine without etcd is skipped.
func Shared(t testing.TB) *Cluster {
	t.Helper()
	skipWithoutEtcd(t)
	sharedOnce.Do(func() {
		dir, err := os.MkdirTemp("", "etcdtest-")
		if err != nil {
			sharedErr = err
			return
		}
		shared, sharedErr = start(dir)
		if sharedErr != nil {
			os.RemoveAll(dir)
		}
	})
	if sharedErr != nil {
		t.Fatalf("etcdtest: starting the shared cluster: %v", sharedErr)
	}
	return shared
}

// Stop stops the shared cluster, if one was started, and removes its
// directory. TestMain calls it after the tests.
func Stop() {
	if shared != nil {
		shared.stop()
		os.RemoveAll(shared.Dir)
	}
}

// Start starts a cluster of the test's own, stopped when the test ends.
func Start(t testing.TB) *Cluster {
	t.Helper()
	skipWithoutEtcd(t)
	c, err := start(t.TempDir())
	if err != nil {
		t.Fatalf("etcdtest: %v", err)
	}
	t.Cleanup(c.stop)
	return c
}

func skipWithoutEtcd(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcdtest: no etcd on this machine (apt-get install etcd-server etcd-client)")
	}
}

// Prefix is a store prefix of the test's own, for a shared cluster.
func Prefix(t testing.TB) string {
	return "test-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + uuid.NewString()[:8]
}

// Endpoints are the cluster's client addresses.
func (c *Cluster) Endpoints() []string {
	var eps []string
	for _, m := range c.members {
		eps = append(eps, m.Endpoint())
	}
	return eps
}

// Members are the cluster's members.
func (c *Cluster) Members() []*Member { return c.members }

// Client is a client of the cluster, closed when the test ends.
func (c *Cluster) Client(t testing.TB, endpoints ...string) *clientv3.Client {
	t.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatalf("etcdtest: client: %v", err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// Leader is the member that leads the cluster now.
func (c *Cluster) Leader(ctx context.Context, cli *clientv3.Client) (*Member, error) {
	for _, m := range c.members {
		if m.cmd == nil {
			continue
		}
		st, err := cli.Status(ctx, m.Endpoint())
		if err != nil {
			continue
		}
		if st.Header.MemberId == st.Leader {
			return m, nil
		}
	}
	return nil, errors.New("etcdtest: no leader found")
}

// start starts a cluster in dir, trying new ports if a member finds its
// port taken.
func start(dir string) (*Cluster, error) {
	var lastErr error
	for attempt := range 3 {
		c, err := tryStart(filepath.Join(dir, "try"+strconv.Itoa(attempt)))
		if err == nil {
			return c, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func tryStart(dir string) (*Cluster, error) {
	ports, err := freePorts(2 * Members)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir}
	var initial []string
	for i := range Members {
		m := &Member{Name: "m" + strconv.Itoa(i+1), ClientPort: ports[2*i], PeerPort: ports[2*i+1]}
		m.dir = filepath.Join(dir, m.Name)
		c.members = append(c.members, m)
		initial = append(initial, fmt.Sprintf("%s=http://127.0.0.1:%d", m.Name, m.PeerPort))
	}
	token := "etcdtest-" + uuid.NewString()
	for _, m := range c.members {
		client, peer := fmt.Sprintf("http://127.0.0.1:%d", m.ClientPort), fmt.Sprintf("http://127.0.0.1:%d", m.PeerPort)
		m.args = []string{"--name", m.Name, "--data-dir", m.dir,
			"--listen-client-urls", client, "--advertise-client-urls", client,
			"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-state", "new",
			"--initial-cluster-token", token, "--max-txn-ops", strconv.Itoa(MaxTxnOps),
			"--logger", "zap", "--log-outputs", "stderr"}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := m.start(); err != nil {
			c.stop()
			return nil, err
		}
	}
	if err := c.awaitHealthy(); err != nil {
		c.stop()
		return nil, err
	}
	return c, nil
}

func (m *Member) start() error {
	log, err := os.OpenFile(m.dir+".log", os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command("etcd", m.args...)
	// etcd reads every ETCD_* variable as a flag, and one a flag also sets
	// kills it: a clean environment.
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		return fmt.Errorf("etcdtest: starting %s: %w", m.Name, err)
	}
	m.cmd, m.log = cmd, log
	return nil
}

// awaitHealthy waits until every member answers a linearizable read.
func (c *Cluster) awaitHealthy() error {
	deadline := time.Now().Add(healthTimeout)
	for time.Now().Before(deadline) {
		ok := true
		for _, m := range c.members {
			if logHas(m, "address already in use") {
				return fmt.Errorf("etcdtest: %s: address already in use", m.Name)
			}
			if !m.healthy() {
				ok = false
				break
			}
		}
		if ok {
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("etcdtest: cluster in %s not healthy after %v", c.Dir, healthTimeout)
}

func (m *Member) healthy() bool {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.Endpoint()}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = cli.Get(ctx, "health")
	return err == nil
}

func logHas(m *Member, s string) bool {
	b, _ := os.ReadFile(m.dir + ".log")
	return bytes.Contains(b, []byte(s))
}

// stop stops every member: SIGTERM one after another, SIGKILL after 10 s.
func (c *Cluster) stop() {
	for _, m := range c.members {
		if m.cmd == nil {
			continue
		}
		m.cmd.Process.Signal(syscall.SIGCONT)
		m.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { m.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			m.cmd.Process.Kill()
			<-done
		}
		m.cmd = nil
		m.log.Close()
	}
}

// freePorts picks n unused ports below the ephemeral range, so that no
// outgoing connection takes one first.
func freePorts(n int) ([]int, error) {
	low := 32768
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			if v, err := strconv.Atoi(f[0]); err == nil {
				low = v
			}
		}
	}
	var ports []int
	seen := map[int]bool{}
	for tries := 0; len(ports) < n && tries < 1000; tries++ {
		p := 10000 + rand.IntN(low-10000)
		if seen[p] {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		l.Close()
		seen[p] = true
		ports = append(ports, p)
	}
	if len(ports) < n {
		return nil, errors.New("etcdtest: no free ports")
	}
	return ports, nil
}
