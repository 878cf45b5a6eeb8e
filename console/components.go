package console

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
)

// componentsPage is GET /console/components: every component with its
// status, a form to set one, and one to add a component.
func (cs *Console) componentsPage(c *fiber.Ctx) error {
	return cs.componentsView(c, fiber.StatusOK, "")
}

func (cs *Console) componentsView(c *fiber.Ctx, status int, msg string) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	comps, err := cs.cfg.Incidents.Components(ctx, p.ID)
	if err != nil {
		return err
	}
	groups := map[string]string{}
	for _, g := range comps {
		if g.Group {
			groups[g.ID] = g.Name
		}
	}
	v := cs.newView(c, "ConsoleComponentsTitle", fiber.Map{"Components": leaves(comps), "Groups": groups, "Statuses": incident.ComponentStatuses, "Error": msg})
	v.Nav = "components"
	return cs.renderView(c, status, "components", v)
}

// setComponent is POST /console/components/:id: a new status (and name).
func (cs *Console) setComponent(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	in := incident.ComponentInput{}
	if st := incident.ComponentStatus(c.FormValue("status")); st != "" {
		in.Status = &st
	}
	if name := strings.TrimSpace(c.FormValue("name")); name != "" {
		in.Name = &name
	}
	if _, err := cs.cfg.Incidents.UpdateComponent(ctx, p.ID, c.Params("id"), in); err != nil {
		if msg := formError(err); msg != "" {
			return cs.componentsView(c, fiber.StatusUnprocessableEntity, msg)
		}
		return err
	}
	return c.Redirect(Prefix+"/components", fiber.StatusSeeOther)
}

// addComponent is POST /console/components.
func (cs *Console) addComponent(c *fiber.Ctx) error {
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	name, desc := c.FormValue("name"), strings.TrimSpace(c.FormValue("description"))
	in := incident.ComponentInput{Name: &name}
	if desc != "" {
		in.Description = &desc
	}
	if _, err := cs.cfg.Incidents.CreateComponent(ctx, p.ID, in); err != nil {
		if msg := formError(err); msg != "" {
			return cs.componentsView(c, fiber.StatusUnprocessableEntity, msg)
		}
		return err
	}
	return c.Redirect(Prefix+"/components", fiber.StatusSeeOther)
}
