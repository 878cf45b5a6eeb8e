package console

import (
	"errors"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/heraldhq/herald/incident"
	"github.com/heraldhq/herald/notify"
)

// maxImportForm caps a customer file uploaded through the console; larger
// files go through the API (herald import), which streams.
const maxImportForm = 8 << 20

// importPage is GET /console/customers/import.
func (cs *Console) importPage(c *fiber.Ctx) error {
	return cs.importView(c, fiber.StatusOK, nil, "")
}

func (cs *Console) importView(c *fiber.Ctx, status int, res *notify.ImportResult, msg string) error {
	v := cs.newView(c, "ConsoleImportTitle", fiber.Map{"Result": res, "Error": msg})
	v.Nav = "import"
	return cs.renderView(c, status, "import", v)
}

// importCustomers is POST /console/customers/import: a CSV or JSON file;
// with bad rows nothing is imported unless "skip" is ticked, and every
// bad row is listed with its line, field and reason.
func (cs *Console) importCustomers(c *fiber.Ctx) error {
	if cs.cfg.Notify == nil {
		return fiber.ErrNotFound
	}
	ctx := c.UserContext()
	p, err := cs.page(ctx)
	if err != nil {
		return err
	}
	fh, err := c.FormFile("file")
	if err != nil {
		return cs.importView(c, fiber.StatusUnprocessableEntity, nil, cs.newView(c, "", nil).T("ConsoleImportNoFile"))
	}
	if fh.Size > maxImportForm {
		return cs.importView(c, fiber.StatusRequestEntityTooLarge, nil, cs.newView(c, "", nil).T("ConsoleImportTooBig"))
	}
	f, err := fh.Open()
	if err != nil {
		return err
	}
	defer f.Close()
	format := "csv"
	if strings.HasSuffix(strings.ToLower(fh.Filename), ".json") {
		format = "json"
	}
	res, err := cs.cfg.Notify.ImportCustomers(ctx, p.ID, f, format, c.FormValue("skip") == "on")
	if err != nil && res == nil {
		var de *incident.Error
		if errors.As(err, &de) && de.Code == incident.EINVALID {
			return cs.importView(c, fiber.StatusUnprocessableEntity, nil, de.Message)
		}
		return err
	}
	status := fiber.StatusOK
	if err != nil {
		status = fiber.StatusUnprocessableEntity
	}
	return cs.importView(c, status, res, "")
}
