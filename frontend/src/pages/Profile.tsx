/** Who the API thinks the caller is: `/api/me`, roles → effective permissions. */
import { useApiGet } from "../context";

interface MatchedRule {
  id: number;
  kind: string;
  value: string;
  label: string;
}

interface Me {
  name: string;
  username: string;
  token_type: string;
  scopes: string[];
  roles: string[];
  groups: string[];
  permissions: string[];
  is_staff: boolean;
  matched_rules: MatchedRule[];
}

function Names({ items, empty }: { items: string[]; empty: string }) {
  if (items.length === 0) return <p className="muted">{empty}</p>;
  return (
    <ul className="chips">
      {items.map((item) => (
        <li key={item}>{item}</li>
      ))}
    </ul>
  );
}

export function Profile() {
  const { data: me, error } = useApiGet<Me>("/me");
  if (error) return <p role="alert" className="error">{error}</p>;
  if (!me) return <p className="muted">Loading…</p>;
  return (
    <>
      <h1>
        Signed in as <span data-testid="me-name">{me.name}</span>
      </h1>
      <p className="muted">
        {me.username} · {me.token_type} token · scopes {me.scopes.join(", ") || "none"}
      </p>
      <section>
        <h2>Roles</h2>
        <Names items={me.roles} empty="The token carries no app roles." />
      </section>
      <section>
        <h2>Effective permissions</h2>
        <div data-testid="permissions">
          <Names items={me.permissions} empty="No permissions: every guarded call is refused." />
        </div>
      </section>
      <section>
        <h2>Matched rules</h2>
        {me.matched_rules.length === 0 ? (
          <p className="muted">No mapping rule matched this token.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th>Source</th>
                <th>Value</th>
                <th>Label</th>
              </tr>
            </thead>
            <tbody>
              {me.matched_rules.map((rule) => (
                <tr key={rule.id}>
                  <td>{rule.kind}</td>
                  <td>{rule.value}</td>
                  <td>{rule.label}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}
