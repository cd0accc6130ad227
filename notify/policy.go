//go:build linux

package notify

// PolicyOptions configure a Policy. The zero value gives the kernel's
// defaults: DefaultWatchLimit watches per user, and every watch and post
// allowed.
type PolicyOptions struct {
	// WatchLimit is how many watches one user may hold at once; 0 means
	// DefaultWatchLimit.
	WatchLimit int
	// Security rules on watches and posts; nil means AllowAll.
	Security Security
}

// Policy is what all the watch lists of one store share: the per-user watch
// quota and the security hooks. Watches are counted per Policy, so watch
// lists that must share a quota must share a Policy.
type Policy struct {
	quota    *quota
	security Security
	// askPost is false for AllowAll, whose answer is known: the post path
	// then skips an interface call per watch.
	askPost bool
}

// NewPolicy returns a Policy with opts.
func NewPolicy(opts PolicyOptions) *Policy {
	sec := opts.Security
	if sec == nil {
		sec = AllowAll{}
	}
	_, allowAll := sec.(AllowAll)
	return &Policy{quota: newQuota(opts.WatchLimit), security: sec, askPost: !allowAll}
}

// Watches is how many watches uid holds under p.
func (p *Policy) Watches(uid uint32) int { return p.quota.count(uid) }

// WatchLimit is how many watches one user may hold under p.
func (p *Policy) WatchLimit() int { return p.quota.limit }
