package secrets

import "context"

// WatchFrom is Watch for a consumer that has seen every change up to the
// store's revision rev (an Event's Revision) and wants the ones after it:
// a cache that went away for a while, a replica catching up.
//
// The changes committed after rev are replayed first, from a bounded
// history of changes the store keeps; when rev is older than that history
// reaches back, the first event is Compacted instead, with Revision rev:
// the consumer lists the service again (List), and the events after it are
// changes from then on.
//
// The store keeps no history yet (it needs one the store writes beside
// its notifications, which a rework of the key store will bring), so
// today every WatchFrom starts with Compacted. Consumers written against
// it work now, by re-listing, and will be replayed to once the history
// exists.
func (s *Store) WatchFrom(ctx context.Context, service string, rev uint64) (*Watch, error) {
	w, err := s.Watch(ctx, service)
	if err != nil {
		return nil, err
	}
	w.pending = append(w.pending, Event{Kind: Compacted, Service: service, Revision: rev})
	return w, nil
}
