package build

import (
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"

	"github.com/strata-build/strata/build/frontend"
)

// The metadata instructions: each changes only the image config and
// finishes its step with a history entry (BuildKit's dispatchX, one
// function per instruction). dispatch calls them after the cache missed.

func (r *stepRun) dispatchEnv(c *instructions.EnvCommand) error {
	cfg := r.st.cfg
	msg := "ENV"
	for _, kv := range c.Env {
		if kv.Key == "" {
			return errors.New("ENV names a variable with an empty name: write ENV NAME=value")
		}
		msg += " " + kv.String()
		cfg.Config.Env = addEnv(cfg.Config.Env, kv.Key, kv.Value)
		delete(r.st.argOver, kv.Key) // this ENV wins over an earlier ARG
	}
	r.done(msg)
	return nil
}

func (r *stepRun) dispatchLabel(c *instructions.LabelCommand) error {
	cfg := r.st.cfg
	msg := "LABEL"
	if cfg.Config.Labels == nil {
		cfg.Config.Labels = map[string]string{}
	}
	for _, kv := range c.Labels {
		cfg.Config.Labels[kv.Key] = kv.Value
		msg += " " + kv.String()
	}
	r.done(msg)
	return nil
}

func (r *stepRun) dispatchMaintainer(c *instructions.MaintainerCommand) error {
	r.st.cfg.Author = c.Maintainer
	r.done("MAINTAINER " + c.Maintainer)
	return nil
}

func (r *stepRun) dispatchCmd(c *instructions.CmdCommand) error {
	cfg := r.st.cfg
	args := c.CmdLine
	if c.PrependShell {
		args = withShell(cfg, args)
	}
	cfg.Config.Cmd = args
	cfg.Config.ArgsEscaped = true
	r.st.cmdSet = true
	r.done(fmt.Sprintf("CMD %q", args))
	return nil
}

func (r *stepRun) dispatchEntrypoint(c *instructions.EntrypointCommand) error {
	cfg := r.st.cfg
	args := c.CmdLine
	if c.PrependShell {
		args = withShell(cfg, args)
	}
	cfg.Config.Entrypoint = args
	if !r.st.cmdSet {
		cfg.Config.Cmd = nil
	}
	r.done(fmt.Sprintf("ENTRYPOINT %q", args))
	return nil
}

func (r *stepRun) dispatchExpose(c *instructions.ExposeCommand) error {
	// BuildKit expands EXPOSE words with ProcessWords ("$PORTS" may hold
	// several).
	p := r.e.Plan
	var raw []string
	for _, w := range c.Ports {
		ws, err := p.LimitedExpandWords(p.Lex, w, r.st.env(), frontend.Named("EXPOSE "+frontend.ShortWord(w)))
		if err != nil {
			return frontend.WrapExpand("EXPOSE "+w, err)
		}
		raw = append(raw, ws...)
	}
	ports, err := expandPorts(raw)
	if err != nil {
		return err
	}
	cfg := r.st.cfg
	if cfg.Config.ExposedPorts == nil {
		cfg.Config.ExposedPorts = map[string]struct{}{}
	}
	for _, port := range ports {
		cfg.Config.ExposedPorts[port] = struct{}{}
	}
	r.done(fmt.Sprintf("EXPOSE %v", ports))
	return nil
}

func (r *stepRun) dispatchUser(c *instructions.UserCommand) error {
	if c.User == "" {
		return errors.New("USER needs a user name or uid[:gid]")
	}
	r.st.cfg.Config.User = c.User
	r.done("USER " + c.User)
	return nil
}

func (r *stepRun) dispatchVolume(c *instructions.VolumeCommand) error {
	cfg := r.st.cfg
	if cfg.Config.Volumes == nil {
		cfg.Config.Volumes = map[string]struct{}{}
	}
	for _, v := range c.Volumes {
		if v == "" {
			return errors.New("VOLUME specified can not be an empty string")
		}
		cfg.Config.Volumes[v] = struct{}{}
	}
	r.done(fmt.Sprintf("VOLUME %v", c.Volumes))
	return nil
}

func (r *stepRun) dispatchStopSignal(c *instructions.StopSignalCommand) error {
	if err := checkSignal(c.Signal); err != nil {
		return err
	}
	r.st.cfg.Config.StopSignal = c.Signal
	r.done("STOPSIGNAL " + c.Signal)
	return nil
}

func (r *stepRun) dispatchShell(c *instructions.ShellCommand) error {
	r.st.cfg.Config.Shell = c.Shell
	r.done(fmt.Sprintf("SHELL %v", c.Shell))
	return nil
}

func (r *stepRun) dispatchOnbuild(c *instructions.OnbuildCommand) error {
	// BuildKit's dispatchOnbuild records no history entry.
	r.st.cfg.Config.OnBuild = append(r.st.cfg.Config.OnBuild, c.Expression)
	r.doneNoHistory()
	return nil
}

func (r *stepRun) dispatchHealthcheck(c *instructions.HealthCheckCommand) error {
	h := c.Health
	r.st.cfg.Config.Healthcheck = &v1.HealthConfig{Test: h.Test, Interval: h.Interval, Timeout: h.Timeout, StartPeriod: h.StartPeriod, Retries: h.Retries}
	r.done(fmt.Sprintf("HEALTHCHECK %+v", *h))
	return nil
}

// dispatchMeta runs a metadata-only instruction.
func dispatchMeta(r *stepRun, c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.EnvCommand:
		return r.dispatchEnv(c)
	case *instructions.LabelCommand:
		return r.dispatchLabel(c)
	case *instructions.MaintainerCommand:
		return r.dispatchMaintainer(c)
	case *instructions.CmdCommand:
		return r.dispatchCmd(c)
	case *instructions.EntrypointCommand:
		return r.dispatchEntrypoint(c)
	case *instructions.ExposeCommand:
		return r.dispatchExpose(c)
	case *instructions.UserCommand:
		return r.dispatchUser(c)
	case *instructions.VolumeCommand:
		return r.dispatchVolume(c)
	case *instructions.StopSignalCommand:
		return r.dispatchStopSignal(c)
	case *instructions.ShellCommand:
		return r.dispatchShell(c)
	case *instructions.OnbuildCommand:
		return r.dispatchOnbuild(c)
	case *instructions.HealthCheckCommand:
		return r.dispatchHealthcheck(c)
	case *instructions.ArgCommand:
		return r.e.arg(r, c)
	}
	return fmt.Errorf("%s is not a metadata instruction", c.Name())
}
