//go:build linux

package journal

import (
	"encoding/binary"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// A redo record is what one committed write transaction changed, as the
// write-ahead log keeps it (log.go): the transaction's puts and deletes,
// in the order it made them, each with the whole value. Replaying records
// in log order onto the state of the log's checkpoint, or onto any state
// between that one and the last record's, gives the last record's state,
// because every operation sets a key outright: none depends on what was
// there before.
//
// The body is a sequence of operations:
//
//	'P', u8 bucket, uvarint key length, key, uvarint value length, value
//	'D', u8 bucket, uvarint key length, key
//
// A bucket is named by its position in Options.Buckets, which is
// therefore part of the format: append to it, never reorder.
const (
	redoPut    = 'P'
	redoDelete = 'D'
)

// BucketID is a bucket's position in Options.Buckets.
type BucketID uint8

// appendRedoPut appends the operation "bucket[k] = v" to a record body.
func appendRedoPut(body []byte, b BucketID, k, v []byte) []byte {
	body = append(body, redoPut, byte(b))
	body = binary.AppendUvarint(body, uint64(len(k)))
	body = append(body, k...)
	body = binary.AppendUvarint(body, uint64(len(v)))
	return append(body, v...)
}

// appendRedoDelete appends the operation "delete bucket[k]" to a record
// body.
func appendRedoDelete(body []byte, b BucketID, k []byte) []byte {
	body = append(body, redoDelete, byte(b))
	body = binary.AppendUvarint(body, uint64(len(k)))
	return append(body, k...)
}

// redoOp is one decoded operation; Value is nil for a delete. Key and
// Value point into the body.
type redoOp struct {
	Kind   byte
	Bucket BucketID
	Key    []byte
	Value  []byte
}

// decodeRedo splits a record body into its operations, on buckets
// numbered below buckets. A body that does not parse is ErrCorrupt: the
// log's checksum passed, so it is damage the checksum missed or a bug,
// never a torn write, and replay must stop.
func decodeRedo(body []byte, buckets int) ([]redoOp, error) {
	var ops []redoOp
	for len(body) > 0 {
		if len(body) < 2 {
			return nil, corruptf("redo record: operation cut short after %d byte", len(body))
		}
		op := redoOp{Kind: body[0], Bucket: BucketID(body[1])}
		if op.Kind != redoPut && op.Kind != redoDelete {
			return nil, corruptf("redo record: unknown operation %#x", op.Kind)
		}
		if int(op.Bucket) >= buckets {
			return nil, corruptf("redo record: unknown bucket %d", op.Bucket)
		}
		var err error
		if op.Key, body, err = redoBytes(body[2:], "key"); err != nil {
			return nil, err
		}
		if len(op.Key) == 0 {
			return nil, corruptf("redo record: empty key")
		}
		if op.Kind == redoPut {
			if op.Value, body, err = redoBytes(body, "value"); err != nil {
				return nil, err
			}
			if op.Value == nil {
				op.Value = []byte{} // a put of an empty value, told apart from a delete
			}
		}
		ops = append(ops, op)
	}
	return ops, nil
}

// redoBytes reads one length-prefixed field.
func redoBytes(b []byte, what string) (field, rest []byte, err error) {
	n, size := binary.Uvarint(b)
	if size <= 0 {
		return nil, nil, corruptf("redo record: bad %s length", what)
	}
	b = b[size:]
	if n > uint64(len(b)) {
		return nil, nil, corruptf("redo record: %s of %d bytes, %d left", what, n, len(b))
	}
	if n == 0 {
		return nil, b, nil
	}
	return b[:n:n], b[n:], nil
}

// applyRedo makes a record's operations in tx.
func applyRedo(tx *bolt.Tx, ops []redoOp, buckets [][]byte) error {
	for _, op := range ops {
		b := tx.Bucket(buckets[op.Bucket])
		if b == nil {
			return corruptf("redo record: bucket %q missing from the store", buckets[op.Bucket])
		}
		var err error
		if op.Kind == redoPut {
			err = b.Put(op.Key, op.Value)
		} else {
			err = b.Delete(op.Key)
		}
		if err != nil {
			return fmt.Errorf("journal: replaying the log: %w", err)
		}
	}
	return nil
}
