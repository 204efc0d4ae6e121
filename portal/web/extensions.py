"""Extension objects, created uninitialised; create_app() binds them to an app.

Oso and FlaskOso are not here: each app builds its own in portal.authz, because a
policy can be loaded into an Oso only once and tests create many apps.
"""

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
