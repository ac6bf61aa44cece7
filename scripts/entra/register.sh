#!/usr/bin/env bash
# Create or update Portico's Entra app registrations with the az CLI, per environment:
#   - the API: App ID URI api://<client id>, the delegated scope access_as_user, the app roles
#     of app-roles.json, v2.0 access tokens (requestedAccessTokenVersion: 2), the SPA and the
#     developer-tools client pre-authorized (no consent prompt for access_as_user);
#   - the SPA: single-page-application redirect URI https://<host><base path>;
#   - optionally a developer-tools client: Swagger UI (/api/docs/oauth2-redirect.html) and
#     Postman (https://oauth.pstmn.io/v1/callback) redirect URIs, PKCE, no secret;
# then prints the environment variables Portico needs in each environment.
#
# Idempotent: registrations are found by display name and updated in place; scope and role
# ids already in Entra are kept. Step by step, with the portal equivalents: docs/entra-setup.md.
#
# Usage:
#   scripts/entra/register.sh --env dev=app-dev.internal.example.com \
#       --env uat=app-uat.internal.example.com --env prod=app.internal.example.com \
#       [--dev-tools] [--admin-consent] [--base-path /] [--name Portico] \
#       [--roles scripts/entra/app-roles.json] [--dry-run]
#
# Progress and --dry-run output go to stderr, the environment variables to stdout. --dry-run
# prints every az command (and each JSON body) instead of running it: lookups then find
# nothing and new ids are placeholders such as <api-client-id:dev>. Needs az (az login), jq.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GRAPH=https://graph.microsoft.com/v1.0
SCOPE_VALUE=access_as_user
# Used only when the API has no access_as_user scope yet; an existing scope keeps its id.
DEFAULT_SCOPE_ID=7d3c9a4e-2f61-4b8a-9e05-5a1c0b6f2e11
POSTMAN_CALLBACK=https://oauth.pstmn.io/v1/callback

dry_run=0
dev_tools=0
admin_consent=0
base_path=/
name=Portico
roles_file="$SCRIPT_DIR/app-roles.json"
environments=()

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'
  exit "${1:-0}"
}

die() {
  echo "register.sh: $*" >&2
  exit 2
}

while (($#)); do
  case "$1" in
    --env) [[ $# -ge 2 ]] || die "--env needs NAME=HOST"; environments+=("$2"); shift 2 ;;
    --dev-tools) dev_tools=1; shift ;;
    --admin-consent) admin_consent=1; shift ;;
    --base-path) [[ $# -ge 2 ]] || die "--base-path needs a value"; base_path=$2; shift 2 ;;
    --name) [[ $# -ge 2 ]] || die "--name needs a value"; name=$2; shift 2 ;;
    --roles) [[ $# -ge 2 ]] || die "--roles needs a file"; roles_file=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) usage 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

((${#environments[@]})) || die "give at least one --env NAME=HOST, e.g. --env dev=app-dev.internal.example.com"
[[ $base_path == /* && $base_path == */ ]] || die "--base-path must start and end with /, got '$base_path'"
[[ -r $roles_file ]] || die "cannot read the app roles file $roles_file"
command -v jq >/dev/null || die "jq is required"
jq -e 'type == "array" and all(.[]; .id and .value and .allowedMemberTypes)' "$roles_file" \
  >/dev/null || die "$roles_file must be an array of app roles with id, value, allowedMemberTypes"
for entry in "${environments[@]}"; do
  [[ $entry =~ ^(dev|uat|prod)=[A-Za-z0-9.-]+(:[0-9]+)?$ ]] \
    || die "--env must be dev|uat|prod=HOST, got '$entry'"
done

# --- az, or what az would be asked ---------------------------------------------------------

# Runs az, or prints the command (to stderr, like every dry-run line) in dry-run mode.
az_run() {
  if ((dry_run)); then
    {
      printf '+ az'
      printf ' %q' "$@"
      printf '\n'
    } >&2
  else
    az "$@"
  fi
}

# Runs an az lookup and prints its answer; in dry-run mode prints the command and answers
# the placeholder $1 ("" for "not found", so that the dry run shows what would be created).
az_query() {
  local placeholder=$1
  shift
  if ((dry_run)); then
    az_run "$@"
    printf '%s\n' "$placeholder"
  else
    az "$@"
  fi
}

# PATCHes a Graph application object (by appId) with the JSON body $2.
graph_patch() {
  local app_id=$1 body=$2
  if ((dry_run)); then
    az_run rest --method PATCH --uri "$GRAPH/applications(appId='$app_id')" \
      --headers Content-Type=application/json --body "@<body>"
    printf '%s\n' "$body" | jq . | sed 's/^/    /' >&2
  else
    local file
    file=$(mktemp)
    printf '%s' "$body" >"$file"
    az rest --method PATCH --uri "$GRAPH/applications(appId='$app_id')" \
      --headers Content-Type=application/json --body "@$file" >/dev/null
    rm -f "$file"
  fi
}

# The client id of the registration named $1, created when missing.
ensure_app() {
  local display=$1 placeholder=$2 app_id
  app_id=$(az_query "" ad app list --filter "displayName eq '$display'" \
    --query "[0].appId" --output tsv)
  if [[ -z $app_id ]]; then
    app_id=$(az_query "<$placeholder>" ad app create --display-name "$display" \
      --sign-in-audience AzureADMyOrg --query appId --output tsv)
  fi
  printf '%s\n' "$app_id"
}

# A service principal (enterprise application): needed to assign users and groups to roles.
ensure_service_principal() {
  local app_id=$1 found
  found=$(az_query "" ad sp list --filter "appId eq '$app_id'" --query "[0].id" --output tsv)
  if [[ -z $found ]]; then
    az_run ad sp create --id "$app_id" >/dev/null
  fi
}

# The current value of a JMESPath query on an application ("" in dry-run mode).
app_field() {
  local app_id=$1 query=$2
  az_query "" ad app show --id "$app_id" --query "$query" --output json
}

# --- one environment -----------------------------------------------------------------------

register_environment() {
  local env=$1 host=$2 api spa tools="" scope_id existing_roles roles pre_authorized
  local origin="https://$host"
  echo "== $env: $origin" >&2

  api=$(ensure_app "$name API ($env)" "api-client-id:$env")
  spa=$(ensure_app "$name SPA ($env)" "spa-client-id:$env")
  if ((dev_tools)); then
    tools=$(ensure_app "$name developer tools ($env)" "devtools-client-id:$env")
  fi

  scope_id=$(app_field "$api" "api.oauth2PermissionScopes[?value=='$SCOPE_VALUE'].id | [0]")
  scope_id=$(jq -r --arg d "$DEFAULT_SCOPE_ID" '. // $d' <<<"${scope_id:-null}")
  existing_roles=$(app_field "$api" "appRoles")
  # Keep the id Entra already has for a role value: an id cannot change under assignments.
  roles=$(jq --argjson existing "${existing_roles:-[]}" \
    'map(. as $r | ($existing // [] | map(select(.value == $r.value)) | .[0].id) as $id
         | if $id then .id = $id else . end)' "$roles_file")
  pre_authorized=$(jq -n --arg scope "$scope_id" '$ARGS.positional
    | map(select(. != "") | {appId: ., delegatedPermissionIds: [$scope]})' --args "$spa" "$tools")

  graph_patch "$api" "$(jq -n --arg api "$api" --arg scope "$scope_id" \
    --arg value "$SCOPE_VALUE" --argjson roles "$roles" --argjson pre "$pre_authorized" '{
      identifierUris: ["api://\($api)"],
      appRoles: $roles,
      api: {
        requestedAccessTokenVersion: 2,
        oauth2PermissionScopes: [{
          id: $scope, value: $value, type: "User", isEnabled: true,
          adminConsentDisplayName: "Access Portico as the signed-in user",
          adminConsentDescription: "Lets the app call the Portico API as the signed-in user.",
          userConsentDisplayName: "Access Portico as you",
          userConsentDescription: "Lets the app call the Portico API as you."
        }],
        preAuthorizedApplications: $pre
      }
    }')"
  ensure_service_principal "$api"

  local access
  access=$(jq -n --arg api "$api" --arg scope "$scope_id" \
    '[{resourceAppId: $api, resourceAccess: [{id: $scope, type: "Scope"}]}]')
  graph_patch "$spa" "$(jq -n --arg uri "$origin$base_path" --argjson access "$access" \
    '{spa: {redirectUris: [$uri]}, requiredResourceAccess: $access}')"
  ensure_service_principal "$spa"
  if [[ -n $tools ]]; then
    graph_patch "$tools" "$(jq -n --arg swagger "$origin/api/docs/oauth2-redirect.html" \
      --arg postman "$POSTMAN_CALLBACK" --argjson access "$access" '{
        spa: {redirectUris: [$swagger]},
        publicClient: {redirectUris: [$postman]},
        requiredResourceAccess: $access
      }')"
    ensure_service_principal "$tools"
  fi
  if ((admin_consent)); then
    for client in "$spa" $tools; do
      az_run ad app permission admin-consent --id "$client" >/dev/null
    done
  fi

  cat <<EOF
# --- $env ($origin) ---
PORTICO_ENV=$env
DJANGO_ALLOWED_HOSTS=$host
ENTRA_TENANT_ID=$tenant
ENTRA_API_CLIENT_ID=$api
ENTRA_API_APP_ID_URI=api://$api
ENTRA_ACCEPTED_TOKEN_VERSIONS=2
ENTRA_SPA_CLIENT_ID=$spa
ENTRA_SPA_SCOPES=api://$api/$SCOPE_VALUE
EOF
  if [[ -n $tools ]]; then
    echo "ENTRA_DEVTOOLS_CLIENT_ID=$tools"
  fi
  echo
}

tenant=$(az_query "<tenant-id>" account show --query tenantId --output tsv)
for entry in "${environments[@]}"; do
  register_environment "${entry%%=*}" "${entry#*=}"
done
