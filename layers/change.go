package layers

import (
	"io/fs"
	"time"
)

// ChangeKind says what a step did to one path.
type ChangeKind uint8

const (
	Added ChangeKind = iota + 1
	Modified
	Deleted
)

func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Modified:
		return "modified"
	case Deleted:
		return "deleted"
	}
	return "unknown"
}

// FileType is the kind of filesystem object at a path.
type FileType uint8

const (
	TypeRegular FileType = iota + 1
	TypeDir
	TypeSymlink
	TypeHardlink // a regular file whose content is another entry of the same layer
	TypeFIFO
	TypeChar
	TypeBlock
	TypeSocket
)

func (t FileType) String() string {
	switch t {
	case TypeRegular:
		return "file"
	case TypeDir:
		return "dir"
	case TypeSymlink:
		return "symlink"
	case TypeHardlink:
		return "hardlink"
	case TypeFIFO:
		return "fifo"
	case TypeChar:
		return "char"
	case TypeBlock:
		return "block"
	case TypeSocket:
		return "socket"
	}
	return "unknown"
}

// Change is one entry of a snapshot's change list: what the TUI shows and
// what the layer tarball was written from. Path is absolute inside the image
// ("/etc/passwd"). For Deleted entries only Path, Kind and (when known) Type
// are set. Opaque is set on a directory that replaced a directory of the
// lower layers (everything below it in the lower layers is hidden).
type Change struct {
	Path     string      `json:"path"`
	Kind     ChangeKind  `json:"kind"`
	Type     FileType    `json:"type"`
	Size     int64       `json:"size,omitempty"`
	Mode     fs.FileMode `json:"mode,omitempty"`
	UID      int         `json:"uid"`
	GID      int         `json:"gid"`
	Linkname string      `json:"linkname,omitempty"`
	ModTime  time.Time   `json:"mtime,omitzero"`
	Opaque   bool        `json:"opaque,omitempty"`
}

// ChangeStats summarises a change list.
type ChangeStats struct {
	Added    int   `json:"added"`
	Modified int   `json:"modified"`
	Deleted  int   `json:"deleted"`
	Bytes    int64 `json:"bytes"` // size of added and modified regular files
}

// Stats counts a change list.
func Stats(changes []Change) ChangeStats {
	var s ChangeStats
	for i := range changes {
		s.Add(&changes[i])
	}
	return s
}

// Add counts one change: a producer that streams its list counts it as it
// goes, without keeping it.
func (s *ChangeStats) Add(c *Change) {
	switch c.Kind {
	case Added:
		s.Added++
	case Modified:
		s.Modified++
	case Deleted:
		s.Deleted++
	}
	if c.Kind != Deleted && c.Type == TypeRegular {
		s.Bytes += c.Size
	}
}
