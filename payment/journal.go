package payment

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/sealnet/sealnet/durable"
)

// The journal is the payee's durable voucher store: records appended to
// one file and flushed with group commit. Whoever appends is told when
// its record is on disk; records appended while one flush runs go to
// disk together in the next, so a busy node pays one fsync for many
// vouchers and an idle one waits for no timer.
//
// A record is u32be(length) || u32be(CRC-32C of the payload) || payload.
// A crash can tear only the tail, which was never flushed, hence never
// acknowledged: reading stops at the first record that is short, too
// long or fails its checksum, and the file is cut there.
//
// When the file outgrows its limit, the journal asks its owner for what
// it holds now (the latest voucher of each lane), writes that as the
// snapshot (durable.Write: a temporary file, flushed, renamed) and only
// then empties the journal. A crash in between leaves both; reading the
// snapshot and then the journal gives the same latest vouchers, since a
// voucher only ever replaces one of a lower nonce.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const recordHeader = 8

// maxRecord bounds a record's payload on reading.
const maxRecord = 4 << 10

// appendRecord adds one record to b.
func appendRecord(b, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(payload, castagnoli))
	return append(b, payload...)
}

// readRecords returns the records of r up to the first torn one, and the
// offset where the good ones end.
func readRecords(r io.Reader) (recs [][]byte, good int64, err error) {
	br := bufio.NewReaderSize(r, 256<<10)
	var h [recordHeader]byte
	for {
		if _, err := io.ReadFull(br, h[:]); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, good, nil
			}
			return nil, 0, err
		}
		n := binary.BigEndian.Uint32(h[:4])
		if n == 0 || n > maxRecord {
			return recs, good, nil
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(br, p); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return recs, good, nil
			}
			return nil, 0, err
		}
		if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
			return recs, good, nil
		}
		recs = append(recs, p)
		good += int64(recordHeader) + int64(n)
	}
}

// journal appends records with group commit.
type journal struct {
	path, snapPath string
	limit          int64           // bytes after which the journal is compacted (read by the flusher only)
	snapshot       func() [][]byte // what the owner holds now, for compaction

	mu      sync.Mutex
	f       *os.File
	size    int64
	buf     []byte        // records waiting for the next flush
	waiters []func(error) // their callers, in order
	kick    chan struct{}
	err     error // sticky: once a flush failed, nothing more is acknowledged
	closed  bool
	done    chan struct{}

	flushes, records uint64 // for the benchmark: records per fsync
}

// openJournal reads the snapshot and then the journal in dir, cuts a torn
// tail, and starts the flusher. It returns every record read, oldest
// first.
func openJournal(dir string, limit int64, snapshot func() [][]byte) (*journal, [][]byte, error) {
	if err := durable.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	j := &journal{path: filepath.Join(dir, "vouchers.journal"), snapPath: filepath.Join(dir, "vouchers.snapshot"), limit: limit, snapshot: snapshot,
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	var recs [][]byte
	if f, err := os.Open(j.snapPath); err == nil {
		recs, _, err = readRecords(f)
		f.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("read %s: %w", j.snapPath, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, nil, err
	}
	f, err := os.OpenFile(j.path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, nil, err
	}
	more, good, err := readRecords(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("read %s: %w", j.path, err)
	}
	if st, err := f.Stat(); err == nil && st.Size() != good {
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("cut the torn tail of %s: %w", j.path, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, nil, err
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, nil, err
	}
	if err := durable.SyncDir(dir); err != nil {
		f.Close()
		return nil, nil, err
	}
	j.f, j.size = f, good
	go j.run()
	return j, append(recs, more...), nil
}

// append queues payload; done is called, from the flusher, once it is on
// disk (nil) or cannot be (the error). Calls to done come in append
// order.
func (j *journal) append(payload []byte, done func(error)) {
	j.mu.Lock()
	if j.err != nil || j.closed {
		err := j.err
		if err == nil {
			err = errors.New("voucher store closed")
		}
		j.mu.Unlock()
		done(err)
		return
	}
	j.buf = appendRecord(j.buf, payload)
	j.waiters = append(j.waiters, done)
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
}

// run flushes what was appended, one write and one fsync per batch,
// until close.
func (j *journal) run() {
	defer close(j.done)
	var spare []byte
	for range j.kick {
		for {
			j.mu.Lock()
			buf, waiters := j.buf, j.waiters
			if len(waiters) == 0 {
				closed := j.closed
				j.mu.Unlock()
				if closed {
					return
				}
				break
			}
			j.buf, j.waiters = spare[:0], nil
			j.mu.Unlock()
			err := j.flush(buf)
			for _, w := range waiters {
				w(err)
			}
			spare = buf
			// after the callbacks: the owner's snapshot holds the batch
			if err == nil && j.snapshot != nil && j.size > j.limit {
				if err := j.compact(); err != nil {
					j.fail(err)
				}
			}
		}
		j.mu.Lock()
		closed := j.closed
		j.mu.Unlock()
		if closed {
			return
		}
	}
}

// flush writes one batch. A failure sticks.
func (j *journal) flush(buf []byte) error {
	if _, err := j.f.Write(buf); err != nil {
		return j.fail(fmt.Errorf("write %s: %w", j.path, err))
	}
	if err := j.f.Sync(); err != nil {
		return j.fail(fmt.Errorf("sync %s: %w", j.path, err))
	}
	j.mu.Lock()
	j.size += int64(len(buf))
	j.flushes++
	j.records += uint64(countRecords(buf))
	j.mu.Unlock()
	return nil
}

func countRecords(buf []byte) int {
	n := 0
	for len(buf) >= recordHeader {
		l := int(binary.BigEndian.Uint32(buf))
		buf = buf[recordHeader+l:]
		n++
	}
	return n
}

// compact writes the owner's latest vouchers as the snapshot, then
// empties the journal.
func (j *journal) compact() error {
	latest := j.snapshot()
	err := durable.Write(j.snapPath, 0o600, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		for _, p := range latest {
			if _, err := bw.Write(appendRecord(nil, p)); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("compact the voucher journal: %w", err)
	}
	if err := j.f.Truncate(0); err != nil {
		return fmt.Errorf("compact the voucher journal: %w", err)
	}
	if _, err := j.f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := j.f.Sync(); err != nil {
		return fmt.Errorf("compact the voucher journal: %w", err)
	}
	j.mu.Lock()
	j.size = 0
	j.mu.Unlock()
	return nil
}

func (j *journal) fail(err error) error {
	j.mu.Lock()
	if j.err == nil {
		j.err = err
	}
	j.mu.Unlock()
	return err
}

// stats returns the flushes and records written so far.
func (j *journal) stats() (flushes, records uint64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.flushes, j.records
}

// close flushes what is queued and closes the file.
func (j *journal) close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	select {
	case j.kick <- struct{}{}:
	default:
	}
	<-j.done
	return j.f.Close()
}
