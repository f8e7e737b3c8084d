package sandbox

import (
	"bytes"
	"io"
	"io/fs"
	"slices"
	"strings"
	"time"
)

// File is one input held in memory.
type File struct {
	Name string // a plain name without "/"
	Data []byte
}

// Files is a read-only directory of in-memory inputs, in name order, for
// Spec.Inputs.
type Files []File

// NewFiles returns the files sorted by name. Names must be distinct, not
// empty, and free of "/".
func NewFiles(files ...File) (Files, error) {
	out := slices.Clone(Files(files))
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	for i, f := range out {
		if f.Name == "" || f.Name == "." || f.Name == ".." || strings.ContainsAny(f.Name, "/\x00") {
			return nil, &fs.PathError{Op: "add", Path: f.Name, Err: fs.ErrInvalid}
		}
		if i > 0 && out[i-1].Name == f.Name {
			return nil, &fs.PathError{Op: "add", Path: f.Name, Err: fs.ErrExist}
		}
	}
	return out, nil
}

// Open implements fs.FS.
func (fsys Files) Open(name string) (fs.File, error) {
	if !fs.ValidPath(name) {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrInvalid}
	}
	if name == "." {
		return &dir{files: fsys}, nil
	}
	i, ok := slices.BinarySearchFunc(fsys, name, func(f File, n string) int { return strings.Compare(f.Name, n) })
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &file{info: info{fsys[i].Name, int64(len(fsys[i].Data))}, Reader: bytes.NewReader(fsys[i].Data)}, nil
}

type info struct {
	name string
	size int64
}

func (i info) Name() string { return i.name }
func (i info) Size() int64  { return i.size }
func (i info) Mode() fs.FileMode {
	if i.size < 0 {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
func (i info) ModTime() time.Time         { return time.Time{} }
func (i info) IsDir() bool                { return i.size < 0 }
func (i info) Sys() any                   { return nil }
func (i info) Type() fs.FileMode          { return i.Mode().Type() }
func (i info) Info() (fs.FileInfo, error) { return i, nil }

type file struct {
	info info
	*bytes.Reader
}

func (f *file) Stat() (fs.FileInfo, error) { return f.info, nil }
func (f *file) Close() error               { return nil }

type dir struct {
	files Files
	next  int
}

func (d *dir) Stat() (fs.FileInfo, error) { return info{".", -1}, nil }
func (d *dir) Read([]byte) (int, error) {
	return 0, &fs.PathError{Op: "read", Path: ".", Err: fs.ErrInvalid}
}
func (d *dir) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (d *dir) ReadDir(n int) ([]fs.DirEntry, error) {
	rest := d.files[d.next:]
	if n > 0 && len(rest) == 0 {
		return nil, io.EOF
	}
	if n > 0 && n < len(rest) {
		rest = rest[:n]
	}
	out := make([]fs.DirEntry, len(rest))
	for i, f := range rest {
		out[i] = info{f.Name, int64(len(f.Data))}
	}
	d.next += len(rest)
	return out, nil
}
