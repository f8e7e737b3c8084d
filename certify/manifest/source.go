package manifest

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"sort"
)

// HashSource hashes a source tree: every regular file under fsys, in
// ascending byte order of its slash-separated path, as
//
//	SHA-256("sealnet/module/source/v1\0" || for each file:
//	        uvarint(len(path)) || path || u64be(size) || contents)
//
// Directories contribute only through their files; file modes and times
// do not count. Anything else (a symbolic link, a device) is refused: a
// link's target depends on the machine. Hash an export of the tree (a
// release archive, git archive) rather than a working copy, whose
// version-control metadata and build outputs differ from one certifier to
// the next. Files are read one at a time, in constant memory.
func HashSource(fsys fs.FS) (Hash, error) {
	var out Hash
	var paths []string
	err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir():
			return nil
		case !d.Type().IsRegular():
			return fmt.Errorf("source %s: not a regular file (%s)", path, d.Type())
		}
		paths = append(paths, path)
		return nil
	})
	if err != nil {
		return out, err
	}
	// WalkDir sorts each directory by name, which puts "a/b" before
	// "a.go"; the hash wants the whole paths' order.
	sort.Strings(paths)
	h := sha256.New()
	h.Write([]byte(sourceDomain))
	for _, path := range paths {
		if err := hashFile(h, fsys, path); err != nil {
			return out, err
		}
	}
	h.Sum(out[:0])
	return out, nil
}

func hashFile(h io.Writer, fsys fs.FS, path string) error {
	f, err := fsys.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("source %s: not a regular file (%s)", path, info.Mode().Type())
	}
	b := binary.AppendUvarint(nil, uint64(len(path)))
	b = append(b, path...)
	h.Write(binary.BigEndian.AppendUint64(b, uint64(info.Size())))
	n, err := io.Copy(h, f)
	if err != nil {
		return fmt.Errorf("source %s: %w", path, err)
	}
	if n != info.Size() {
		return fmt.Errorf("source %s: read %d bytes of %d: it changed while hashed", path, n, info.Size())
	}
	return nil
}
