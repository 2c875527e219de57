/*
 * queue: the backend-neutral helpers of queue.h (ids, names, freeing
 * entries). The backends (queue_spool.c) own the storage; the runner
 * (queue_run.c) owns delivery. Must not touch files.
 */
#include "config.h"

#include "queue.h"

#include <stdlib.h>
#include <string.h>

int queue_id_valid(const char *id)
{
	size_t n = 0;

	if (id == NULL)
		return 0;
	for (; id[n] != '\0'; n++) {
		if (n >= QUEUE_ID_MAX - 1)
			return 0;
		if (!((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'A' && id[n] <= 'Z')))
			return 0;
	}
	return n > 0;
}

const char *queue_rcpt_state_name(enum queue_rcpt_state s)
{
	switch (s) {
	case QUEUE_RCPT_PENDING: return "pending";
	case QUEUE_RCPT_SENT: return "sent";
	case QUEUE_RCPT_FAILED: return "failed";
	}
	return "pending";
}

void queue_entry_clear(struct queue *q, struct queue_entry *e)
{
	if (e->locked && q != NULL)
		q->ops->release(q, e);
	for (size_t i = 0; i < e->nrcpts; i++)
		free(e->rcpts[i].address);
	free(e->rcpts);
	free(e->sender);
	free(e->data);
	memset(e, 0, sizeof(*e));
}

void queue_entries_free(struct queue *q, struct queue_entry *v, size_t n)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		queue_entry_clear(q, &v[i]);
	free(v);
}
