package console

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// groupRow is one component group and its members, for the groups page.
type groupRow struct {
	Group   *incident.Component
	Members []string // component IDs
}

// groupsPage is GET /console/groups: each group with its components, a
// form to rename it and pick its members, and one to delete it; a form
// to create one.
func (cs *Console) groupsPage(c *fiber.Ctx) error {
	return cs.groupsView(c, fiber.StatusOK, "")
}

func (cs *Console) groupsView(c *fiber.Ctx, status int, msg string) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	var rows []groupRow
	for _, g := range comps {
		if !g.Group {
			continue
		}
		r := groupRow{Group: g}
		for _, m := range comps {
			if m.GroupID == g.ID {
				r.Members = append(r.Members, m.ID)
			}
		}
		rows = append(rows, r)
	}
	v := cs.newView(c, "ConsoleGroupsTitle", fiber.Map{"Groups": rows, "Components": leaves(comps), "Error": msg})
	v.Nav = "components"
	return cs.renderView(c, status, "groups", v)
}

// groupInput reads a group form: the name and the ticked components.
func groupInput(c *fiber.Ctx) incident.GroupInput {
	name := strings.TrimSpace(c.FormValue("name"))
	in := incident.GroupInput{Name: &name, ComponentIDs: []string{}}
	for _, id := range c.Context().PostArgs().PeekMulti("component") {
		in.ComponentIDs = append(in.ComponentIDs, string(id))
	}
	return in
}

// groupDone answers a group change: back to the page, or the page again
// with the domain's complaint about the form.
func (cs *Console) groupDone(c *fiber.Ctx, err error) error {
	if err != nil {
		if msg := formError(err); msg != "" {
			return cs.groupsView(c, fiber.StatusUnprocessableEntity, msg)
		}
		return err
	}
	return c.Redirect(Prefix+"/groups", fiber.StatusSeeOther)
}

// createGroup is POST /console/groups.
func (cs *Console) createGroup(c *fiber.Ctx) error {
	p, err := cs.page(c.UserContext())
	if err != nil {
		return err
	}
	in := groupInput(c)
	if *in.Name == "" {
		return cs.groupsView(c, fiber.StatusUnprocessableEntity, "name: "+cs.newView(c, "", nil).T("ConsoleGroupNameNeeded"))
	}
	_, err = cs.cfg.Incidents.CreateGroup(c.UserContext(), p.ID, in)
	return cs.groupDone(c, err)
}

// updateGroup is POST /console/groups/:id: its name and exactly the
// ticked components.
func (cs *Console) updateGroup(c *fiber.Ctx) error {
	p, err := cs.page(c.UserContext())
	if err != nil {
		return err
	}
	in := groupInput(c)
	if *in.Name == "" {
		return cs.groupsView(c, fiber.StatusUnprocessableEntity, "name: "+cs.newView(c, "", nil).T("ConsoleGroupNameNeeded"))
	}
	_, err = cs.cfg.Incidents.UpdateGroup(c.UserContext(), p.ID, c.Params("id"), in)
	return cs.groupDone(c, err)
}

// deleteGroup is POST /console/groups/:id/delete: the group goes, its
// components stay, ungrouped.
func (cs *Console) deleteGroup(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	g, err := cs.cfg.Incidents.Component(ctx, p.ID, c.Params("id"))
	if err != nil {
		return err
	}
	if !g.Group {
		return incident.NotFound("component group", g.ID)
	}
	return cs.groupDone(c, cs.cfg.Incidents.DeleteComponent(ctx, p.ID, g.ID))
}
