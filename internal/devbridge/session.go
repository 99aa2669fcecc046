package devbridge

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Session is what package tesths needs of its caller (tesths.T), for a program that runs a
// homeserver outside go test: Fatalf panics with a value RunSession turns into an error, and the
// cleanups run, last first, when the session ends.
type Session struct {
	ctx       context.Context
	dir       string
	logPrefix string
	cleanups  []func()
	failed    bool
	tmp       int
}

type fatal struct{ msg string }

func (s *Session) Helper()                         {}
func (s *Session) Logf(format string, args ...any) { fmt.Printf(s.logPrefix+format+"\n", args...) }
func (s *Session) Cleanup(f func())                { s.cleanups = append(s.cleanups, f) }
func (s *Session) Context() context.Context        { return s.ctx }
func (s *Session) Failed() bool                    { return s.failed }

func (s *Session) Fatalf(format string, args ...any) {
	s.failed = true
	panic(fatal{fmt.Sprintf(format, args...)})
}

// TempDir returns a new directory under the session's directory.
func (s *Session) TempDir() string {
	s.tmp++
	d, err := filepath.Abs(filepath.Join(s.dir, fmt.Sprintf("tmp%d", s.tmp)))
	if err == nil {
		err = os.MkdirAll(d, 0o700)
	}
	if err != nil {
		s.Fatalf("%v", err)
	}
	return d
}

// RunSession runs f with a Session whose files go under dir and whose log lines start with
// logPrefix. It returns f's error or the message of a Fatalf; either marks the session failed
// before the cleanups run (tesths then prints the homeserver's log).
func RunSession(ctx context.Context, dir, logPrefix string, f func(*Session) error) (err error) {
	s := &Session{ctx: ctx, dir: dir, logPrefix: logPrefix}
	defer func() {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(fatal)
			if !ok {
				panic(r)
			}
			err = errors.New(f.msg)
		}
	}()
	if err = f(s); err != nil {
		s.failed = true
	}
	return err
}
