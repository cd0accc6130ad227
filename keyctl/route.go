//go:build linux

package keyctl

import "fmt"

// A Step is one step of the discovery rule (see Discovery): how a Caller
// reached its store.
type Step int

const (
	// StepSocket is step 1: the daemon at the socket named by
	// Options.Socket or $KEYCTL_GO_SOCKET.
	StepSocket Step = iota + 1
	// StepStoreDaemon is step 2 through the daemon of the store named by
	// Options.Store or $KEYCTL_GO_DB.
	StepStoreDaemon
	// StepStoreFile is step 2 with no daemon: the named store, opened here.
	StepStoreFile
	// StepSystemDaemon is step 3: the system daemon, for every user.
	StepSystemDaemon
	// StepUserDaemon is step 4: the user's own daemon of the default store.
	StepUserDaemon
	// StepUserStore is step 5: the user's default store, opened here.
	StepUserStore
)

var stepNames = [...]string{
	StepSocket:       "the named socket",
	StepStoreDaemon:  "the named store's daemon",
	StepStoreFile:    "the named store",
	StepSystemDaemon: "the system daemon",
	StepUserDaemon:   "the user's daemon",
	StepUserStore:    "the user's store",
}

func (s Step) String() string {
	if s > 0 && int(s) < len(stepNames) {
		return stepNames[s]
	}
	return fmt.Sprintf("Step(%d)", int(s))
}

// Remote reports whether the step goes through a daemon.
func (s Step) Remote() bool { return s != StepStoreFile && s != StepUserStore }

// A Route is how a Caller reached its store: the step of the rule, and
// the daemon's socket or the store's file.
type Route struct {
	Step Step
	Path string
}

func (r Route) String() string { return r.Step.String() + " at " + r.Path }
