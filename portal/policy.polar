# Portal's whole permission model. Python code asks Oso; it never restates a rule.
#
# Permissions per organization (OWNER inherits everything MEMBER and BILLING can do):
#
#   permission         OWNER  MEMBER  BILLING
#   READ                 x      x       x
#   LIST_REPOS           x      x
#   CREATE_REPO          x      x
#   LIST_ROLES           x      x
#   READ_BILLING         x              x
#   READ_SETTINGS        x              x  (whoever may change one of the below)
#   UPDATE_BILLING       x              x  (the billing address)
#   CREATE_ROLE          x
#   UPDATE_ROLE          x
#   DELETE_ROLE          x
#   READ_AUDIT           x
#   UPDATE               x                 (rename)
#   DELETE               x
#
# One person's role in an organization (OrganizationRole) may be read by whoever
# may LIST_ROLES there, changed with UPDATE_ROLE, removed with DELETE_ROLE, and
# read and given up (leaving) by the person who holds it. The product shows this
# table to its users by asking this file (RoleHolder, portal/authz/explain.py),
# so the table above is for readers of this file only.

allow(actor, action, resource) if has_permission(actor, action, resource);

# Two actor types state the same fact, "this person holds this role here", in two
# forms (see has_role at the end of this file). The resource blocks below are
# written once and serve both.
actor Viewer {}
actor User {}

# A role considered on its own, in no particular organization: the answers to
# "what does MEMBER grant?" and "what does OWNER include?" that the roles page
# and the member page explain access with (portal.authz.explain). Only Python
# builds one; no request acts as a RoleHolder.
actor RoleHolder {}

resource Organization {
  roles = ["OWNER", "MEMBER", "BILLING"];
  permissions = [
    "READ",
    "LIST_REPOS",
    "CREATE_REPO",
    "LIST_ROLES",
    "READ_BILLING",
    "READ_SETTINGS",
    "UPDATE_BILLING",
    "CREATE_ROLE",
    "UPDATE_ROLE",
    "DELETE_ROLE",
    "READ_AUDIT",
    "UPDATE",
    "DELETE"
  ];

  # Every role may see that the organization exists and open its overview.
  "READ" if "MEMBER";
  "READ" if "BILLING";

  # Members work with the code, start new repositories and see who else is here.
  "LIST_REPOS" if "MEMBER";
  "CREATE_REPO" if "MEMBER";
  "LIST_ROLES" if "MEMBER";

  # Billing contacts see the billing details and nothing of the code.
  "READ_BILLING" if "BILLING";

  # Only owners hand out, change and take away roles, and see their history.
  "CREATE_ROLE" if "OWNER";
  "UPDATE_ROLE" if "OWNER";
  "DELETE_ROLE" if "OWNER";
  "READ_AUDIT" if "OWNER";

  # Owners rename and delete the organization; billing contacts correct the
  # billing address (owners too: they are billing contacts).
  "UPDATE" if "OWNER";
  "DELETE" if "OWNER";
  "UPDATE_BILLING" if "BILLING";

  # The settings page is for whoever may change something on it.
  "READ_SETTINGS" if "UPDATE";
  "READ_SETTINGS" if "UPDATE_BILLING";

  # The hierarchy: an owner is also a member and a billing contact.
  "MEMBER" if "OWNER";
  "BILLING" if "OWNER";
}

# Repository roles (ADMIN includes WRITER includes READER):
#
#   permission     READER  WRITER  ADMIN
#   READ              x       x      x
#   PUSH                      x      x
#   LIST_ROLES                       x   (see who has which role; members of the
#                                          organization too, as they see its people)
#   UPDATE                           x   (rename)
#   DELETE                           x
#   MANAGE_ROLES                     x   (give, change and take away repository roles)
#
# A person holds a repository role in three ways: granted on the repository
# directly (RepositoryRole rows; only to someone who holds a role in its
# organization), as an OWNER of the organization (ADMIN), or as a MEMBER through
# the organization's base repository role (none, READER, WRITER or ADMIN: the
# has_role rules at the end of this file). A BILLING role gives none.
resource Repository {
  roles = ["READER", "WRITER", "ADMIN"];
  permissions = ["READ", "PUSH", "LIST_ROLES", "UPDATE", "DELETE", "MANAGE_ROLES"];
  relations = { parent: Organization };

  "READ" if "READER";
  "PUSH" if "WRITER";
  "UPDATE" if "ADMIN";
  "DELETE" if "ADMIN";
  "MANAGE_ROLES" if "ADMIN";

  # Who has which role on the repository, and why: for whoever manages them, and
  # for whoever may see the organization's people (not a billing contact who was
  # given a role on it: they see only their own access).
  "LIST_ROLES" if "MANAGE_ROLES";
  "LIST_ROLES" if "LIST_ROLES" on "parent";

  "READER" if "WRITER";
  "WRITER" if "ADMIN";

  # Owners administer every repository of their organization.
  "ADMIN" if "OWNER" on "parent";
}

# One person's role in an organization, the thing an owner changes or removes and
# a member gives up when they leave. "HOLDER" is the person who holds it.
resource OrganizationRole {
  roles = ["HOLDER"];
  permissions = ["READ", "UPDATE", "DELETE"];
  relations = { organization: Organization };

  # Whoever may list the organization's roles may open each; everyone may open
  # their own, to see what it lets them do.
  "READ" if "LIST_ROLES" on "organization";
  "READ" if "HOLDER";

  # Owners change and remove roles.
  "UPDATE" if "UPDATE_ROLE" on "organization";
  "DELETE" if "DELETE_ROLE" on "organization";

  # Leaving: anyone may give up the role they hold. (Whether the organization
  # can spare them, its last owner, is the data's rule: portal.roles.)
  "DELETE" if "HOLDER";
}

# A user's own account: only they ("SELF") may see it, change its password and,
# with it, create organizations (of which they become the first owner).
resource User {
  roles = ["SELF"];
  permissions = ["READ", "CHANGE_PASSWORD", "CREATE_ORGANIZATION"];

  "READ" if "SELF";
  "CHANGE_PASSWORD" if "SELF";
  "CREATE_ORGANIZATION" if "SELF";
}

has_role(viewer: Viewer, "SELF", user: User) if
  viewer.user_id = user.id;

has_relation(organization: Organization, "parent", repository: Repository) if
  organization = repository.organization;

has_relation(organization: Organization, "organization", role: OrganizationRole) if
  organization = role.organization;

has_role(viewer: Viewer, "HOLDER", role: OrganizationRole) if
  viewer.user_id = role.user_id;

# Every member holds the organization's base repository role on each of its
# repositories (none when it is nil; an owner is also a member). Written once for
# every actor type: decisions, lists and RoleHolders alike.
has_role(actor: Actor, name: String, repository: Repository) if
  has_relation(organization, "parent", repository) and
  has_role(actor, "MEMBER", organization) and
  name = organization.base_repository_role;

# A repository role granted directly, for decisions (one indexed query per
# repository, remembered for the request: Viewer.repository_role_in) and for
# lists (the repository's role rows, one SQL join). Only while both the grant
# and its holder's organization role are active (see below).
has_role(viewer: Viewer, name: String, repository: Repository) if
  name = viewer.repository_role_in(repository);

# An expired grant grants nothing, nor does a grant whose holder's organization
# role has expired (Viewer.repository_role_in reads both the same way). The
# holder's organization role is the grant's own membership (its user's role in
# the grant's organization), so a list still asks one subquery of the grants.
has_role(user: User, name: String, repository: Repository) if
  role in repository.roles and
  role.name = name and
  role.user_id = user.id and
  role.active = true and
  role.membership.active = true;

# A RoleHolder holds its role in every organization; the resource block above
# adds what the role includes ("MEMBER" if "OWNER").
has_role(holder: RoleHolder, name: String, _: Organization) if
  holder.on = "Organization" and
  name = holder.name;

# ... and a repository RoleHolder its role on every repository (what READER,
# WRITER and ADMIN grant, for the repository's table and "why").
has_role(holder: RoleHolder, name: String, _: Repository) if
  holder.on = "Repository" and
  name = holder.name;

# Decisions (one resource, the current request): the Viewer looks up its single role
# in this organization with one indexed query and remembers it for the request, so
# the cost does not grow with the number of organizations a user belongs to. An
# expired role is no role (role_in returns nil).
has_role(viewer: Viewer, name: String, organization: Organization) if
  name = viewer.role_in(organization);

# Lists ("organizations I can read"): the same fact walked from the organization's
# role rows, which data filtering turns into one SQL join. Only plain field access
# here: a method call would receive an unbound variable during data filtering.
# A time-limited role grants nothing from its expiry on: ``active`` is
# ``expires_at`` unset or later than now (the one clock's, read when the SQL
# runs); Viewer.role_in reads only active roles the same way.
has_role(user: User, name: String, organization: Organization) if
  role in organization.roles and
  role.user_id = user.id and
  role.active = true and
  role.name = name;
