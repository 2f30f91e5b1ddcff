//! The user steps: create (with a retry of the same request id), get, list, update and delete
//! the subject user (user.v1).
use tonic::Status;

use crate::scenario::Step;
use crate::userv1::{
    CreateUserRequest, DeleteUserRequest, GetUserRequest, ListUsersRequest, UpdateUserRequest, User,
};
use crate::{rpc, Runner};

const MAX_PAGES: usize = 1000;

impl Runner {
    fn check_name(step: &Step, user: &User) -> String {
        let want = &step.expect.display_name;
        if !want.is_empty() && &user.display_name != want {
            return format!("display_name {:?}, expected {want:?}", user.display_name);
        }
        String::new()
    }

    fn etag(&self, step: &Step) -> String {
        if step.etag == "stale" {
            self.stale_etag.clone()
        } else {
            self.subject.etag.clone()
        }
    }

    pub(crate) async fn create(&mut self, step: &Step) -> Result<String, Status> {
        let request_id = self.next_request_id(step);
        let message = CreateUserRequest {
            user: Some(User {
                display_name: step.display_name.clone(),
                email: self.text(&step.email),
                ..Default::default()
            }),
            request_id,
            ..Default::default()
        };
        let user = rpc!(self, step, create_user, message).await?;
        if step.expect.same_user && user.name != self.subject.name {
            return Ok(format!(
                "retry returned {}, not the first call's user",
                user.name
            ));
        }
        if step.request_id == "fresh" {
            self.subject = user;
        }
        Ok(String::new())
    }

    pub(crate) async fn get(&self, step: &Step) -> Result<String, Status> {
        let message = GetUserRequest {
            name: self.subject.name.clone(),
        };
        let user = rpc!(self, step, get_user, message).await?;
        Ok(Self::check_name(step, &user))
    }

    pub(crate) async fn list(&self, step: &Step) -> Result<String, Status> {
        for i in 0..step.seed_users {
            let user = User {
                display_name: format!("Seed {i}"),
                email: self.text(&format!("seed{i}.{{run}}@example.com")),
                ..Default::default()
            };
            let message = CreateUserRequest {
                user: Some(user),
                ..Default::default()
            };
            rpc!(self, step, create_user, message).await?;
        }
        let (mut pages, mut found, mut page_token) = (0, false, String::new());
        while pages < MAX_PAGES {
            let message = ListUsersRequest {
                page_size: step.page_size,
                page_token,
            };
            let page = rpc!(self, step, list_users, message).await?;
            pages += 1;
            found |= page.users.iter().any(|u| u.name == self.subject.name);
            page_token = page.next_page_token;
            if page_token.is_empty() {
                break;
            }
        }
        if pages < step.expect.min_pages || !found {
            return Ok(format!("{pages} pages, subject listed: {found}"));
        }
        Ok(String::new())
    }

    pub(crate) async fn update(&mut self, step: &Step) -> Result<String, Status> {
        let user = User {
            name: self.subject.name.clone(),
            display_name: step.display_name.clone(),
            etag: self.etag(step),
            ..Default::default()
        };
        let mask = prost_types::FieldMask {
            paths: step.update_mask.clone(),
        };
        let message = UpdateUserRequest {
            user: Some(user),
            update_mask: Some(mask),
        };
        let user = rpc!(self, step, update_user, message).await?;
        if user.etag == self.subject.etag {
            return Ok("the etag did not change".into());
        }
        self.stale_etag = std::mem::replace(&mut self.subject, user).etag;
        Ok(Self::check_name(step, &self.subject))
    }

    pub(crate) async fn delete(&self, step: &Step) -> Result<String, Status> {
        let message = DeleteUserRequest {
            name: self.subject.name.clone(),
            etag: self.etag(step),
        };
        rpc!(self, step, delete_user, message).await?;
        Ok(String::new())
    }
}
