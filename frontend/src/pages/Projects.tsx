/**
 * The sample resource, `/api/projects/`. Every button is offered to everyone on purpose:
 * the API decides, and a refusal says which permission was missing.
 */
import { useState, type FormEvent } from "react";
import { useApi, useApiGet } from "../context";

interface Project {
  id: number;
  name: string;
  description: string;
  is_archived: boolean;
  created_by: string | null;
  updated_at: string;
}

type Draft = Pick<Project, "name" | "description" | "is_archived">;

const EMPTY: Draft = { name: "", description: "", is_archived: false };

function ProjectForm({
  initial,
  submitLabel,
  onSubmit,
  onCancel,
}: {
  initial: Draft;
  submitLabel: string;
  onSubmit: (draft: Draft) => Promise<boolean>;
  onCancel?: () => void;
}) {
  const [draft, setDraft] = useState(initial);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (await onSubmit(draft)) setDraft(initial);
  };
  return (
    <form className="project-form" onSubmit={submit}>
      <input
        aria-label="Name"
        placeholder="Name"
        required
        maxLength={120}
        value={draft.name}
        onChange={(e) => setDraft({ ...draft, name: e.target.value })}
      />
      <input
        aria-label="Description"
        placeholder="Description"
        value={draft.description}
        onChange={(e) => setDraft({ ...draft, description: e.target.value })}
      />
      <label>
        <input
          type="checkbox"
          checked={draft.is_archived}
          onChange={(e) => setDraft({ ...draft, is_archived: e.target.checked })}
        />
        Archived
      </label>
      <button type="submit" className="primary">
        {submitLabel}
      </button>
      {onCancel && (
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      )}
    </form>
  );
}

export function Projects() {
  const api = useApi();
  const { data: projects, error: loadError, reload } = useApiGet<Project[]>("/projects/");
  const [editing, setEditing] = useState<number>();
  const [error, setError] = useState<string>();
  const [notice, setNotice] = useState<string>();

  /** Runs one write; true when it succeeded (the list is then reloaded). */
  const write = async (what: string, path: string, init: RequestInit): Promise<boolean> => {
    setError(undefined);
    setNotice(undefined);
    try {
      await api(path, init);
    } catch (reason) {
      setError(`${what} failed: ${(reason as Error).message}`);
      return false;
    }
    setNotice(`${what} done.`);
    setEditing(undefined);
    reload();
    return true;
  };
  const create = (draft: Draft) =>
    write(`Creating "${draft.name}"`, "/projects/", { method: "POST", body: JSON.stringify(draft) });
  const update = (project: Project) => (draft: Draft) =>
    write(`Saving "${draft.name}"`, `/projects/${project.id}/`, {
      method: "PATCH",
      body: JSON.stringify(draft),
    });
  const remove = (project: Project) =>
    write(`Deleting "${project.name}"`, `/projects/${project.id}/`, { method: "DELETE" });

  return (
    <>
      <h1>Projects</h1>
      {error && (
        <p role="alert" className="error" data-testid="action-error">
          {error}
        </p>
      )}
      {notice && (
        <p role="status" className="notice">
          {notice}
        </p>
      )}
      <section>
        <h2>New project</h2>
        <ProjectForm initial={EMPTY} submitLabel="Create" onSubmit={create} />
      </section>
      <section>
        <h2>All projects</h2>
        {loadError && (
          <p role="alert" className="error">
            {loadError}
          </p>
        )}
        {projects && (
          <table>
            <thead>
              <tr>
                <th>Name</th>
                <th>Description</th>
                <th>Created by</th>
                <th>Actions</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((project) =>
                editing === project.id ? (
                  <tr key={project.id}>
                    <td colSpan={4}>
                      <ProjectForm
                        initial={project}
                        submitLabel="Save"
                        onSubmit={update(project)}
                        onCancel={() => setEditing(undefined)}
                      />
                    </td>
                  </tr>
                ) : (
                  <tr key={project.id} className={project.is_archived ? "archived" : undefined}>
                    <td>{project.name}</td>
                    <td>{project.description}</td>
                    <td>{project.created_by ?? "—"}</td>
                    <td className="actions">
                      <button type="button" onClick={() => setEditing(project.id)}>
                        Edit
                      </button>
                      <button type="button" className="danger" onClick={() => remove(project)}>
                        Delete
                      </button>
                    </td>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
